"""Settings per environment, read from environment variables with safe defaults."""
from .settings import Config, DevelopmentConfig, ProductionConfig, TestingConfig, config_for

__all__ = ["Config", "DevelopmentConfig", "ProductionConfig", "TestingConfig", "config_for"]

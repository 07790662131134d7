"""Settings per environment, read from environment variables with safe defaults."""
from config.settings import Config, DevelopmentConfig, ProductionConfig, TestingConfig, config_for

__all__ = ["Config", "DevelopmentConfig", "ProductionConfig", "TestingConfig", "config_for"]

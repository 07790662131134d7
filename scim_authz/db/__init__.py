"""Storage: the SQLAlchemy extension objects, the models, engine set-up and transactions."""

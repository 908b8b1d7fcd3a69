from services.webhooks.models import Base
from shared.migrate import run_migrations

run_migrations(Base.metadata)

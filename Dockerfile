# One image for every service; docker-compose.yml and deploy/k8s pick the
# service to run: `python -m shared.serve SERVICE` (it stops within
# STOP_GRACE_SECONDS of a SIGTERM, whatever follows).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY contracts contracts
COPY shared shared
COPY services services
COPY scripts scripts
ENV PYTHONPATH=/app

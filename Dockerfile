# One image for every service; docker-compose.yml picks the service to run.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY contracts contracts
COPY shared shared
COPY services services
COPY scripts scripts
ENV PYTHONPATH=/app

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b gettext xmlsec1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY . .
RUN pip install --no-cache-dir -c requirements.lock .
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["gunicorn", "lumiodesk.wsgi", "--bind", "0.0.0.0:8000"]

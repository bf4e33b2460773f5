# tipbot: a slim image that runs `tipbot run` as an unprivileged user.
# Build: docker build -t tipbot .
# Run:   docker run -e TELEGRAM_BOT_TOKEN=... -v tipbot-data:/data tipbot
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY bot ./bot
COPY handlers ./handlers
COPY db ./db
COPY migrations ./migrations
RUN python -m pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/tipbot.db \
    MEDIA_DIR=/data/media \
    TIPBOT_DATA_DIR=/data
RUN groupadd --system --gid 10001 tipbot \
    && useradd --system --uid 10001 --gid tipbot --home-dir /data --shell /usr/sbin/nologin tipbot \
    && mkdir -p /data \
    && chown tipbot:tipbot /data \
    && chmod 0700 /data
COPY --from=build /wheels /wheels
RUN python -m pip install /wheels/*.whl && rm -rf /wheels
USER tipbot
WORKDIR /data
VOLUME ["/data"]
# Originals, the SQLite database and the generated secret key live in /data: back it up.
CMD ["tipbot", "run"]

# The Billed dashboard as a container: the toolkit installed, your billing repo mounted (or copied) at /repo.
# Build:  docker build -t billed-dashboard .
# Client view (what you host for clients; the default of this image):
#   docker run -p 8501:8501 -v "$PWD":/repo:ro billed-dashboard
# Owner view (behind its own password; pass the secret at run time, never bake it into the image or the repo):
#   docker run -p 8502:8501 -v "$PWD":/repo:ro -e BILLED_MODE=owner -e BILLED_OWNER_SECRET billed-dashboard
# See docs/dashboard.md.
FROM python:3.11-slim

# git: the owner view's scope history reads the repo's commits (the client view never needs it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

# Editable install: Billed finds schemas/ next to its package folder.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY billed ./billed
COPY schemas ./schemas
COPY dashboard.py ./
RUN pip install --no-cache-dir -e '.[dashboard]' \
    && git config --system --add safe.directory /repo

# Safe by default: a container started without BILLED_MODE serves only the token-gated client view.
ENV BILLED_REPO=/repo \
    BILLED_MODE=client \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_CLIENT_TOOLBAR_MODE=minimal \
    STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=none

USER nobody
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["streamlit", "run", "/app/dashboard.py", "--server.address", "0.0.0.0", "--server.port", "8501"]

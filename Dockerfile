# One image for every part; docker-compose.yml runs each part as its own service with `wesprint <part>`.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY . .
# The dashboard's static files, served by the API part (vite and svelte are runtime dependencies for this).
RUN npm run build
ENV DATA_DIR=/data HTTP_HOST=0.0.0.0
VOLUME /data
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/wesprint.js"]

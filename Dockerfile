# The duragent worker image used by docker-compose.yml.
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
CMD ["npx", "duragent", "worker"]

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 3000
# The same flags as `npm run start:prod`: a small young generation keeps RSS
# under load well below 256 MB at no measurable cost in throughput.
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]

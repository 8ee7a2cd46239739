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
# The same flags as `npm run start:prod` (README.md, "Memory"): a small young
# generation, and an old generation that grows by at most 30 % past what the
# last full collection kept, so RSS follows the live heap, not V8's default of
# up to four times it.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=30", "dist/src/main.js"]

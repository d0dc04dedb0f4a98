# The billing service as a container image: one static binary, `billing`,
# whose default command is `serve` (docs/operations.md). The other
# subcommands run in the same image:
#
#   docker run -p 8080:8080 -e BILLING_PUBLIC_URL=http://localhost:8080 -v billing-data:/data IMAGE
#     (BILLING_PUBLIC_URL is required: the image listens on 0.0.0.0, from
#     which the URLs handed to browsers cannot be derived)
#   docker run --rm -v billing-data:/data IMAGE token --user user_42
#   docker run --rm -v billing-data:/data IMAGE verify
#
# Build:  docker build -t robotlabor/billing .
# Deploy: docker-compose.yml, and docs/operations.md, "Deployment with Docker Compose".

# --- build: a static binary (the embedded SQLite is pure Go, so no cgo) ----
# The Go version is go.mod's.
FROM golang:1.26-bookworm AS build

WORKDIR /src
ENV CGO_ENABLED=0

# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/billing ./cmd/billing

# The mount points, owned by the user the service runs as: an empty named
# volume mounted there takes this owner on first use.
#   /data    BILLING_DATA_DIR: read models, reconciler checkpoint, token key,
#            and, on the embedded store, the ledger itself (events.db)
#   /shared  state several instances on one Docker host share
#            (BILLING_SANDBOX_PATH, or BILLING_EVENTSTORE_URL=sqlite:/shared/events.db)
RUN mkdir -p /out/data /out/shared

# --- run: distroless, no shell, no package manager, not root -------------
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/billing /billing
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/shared /shared

ENV BILLING_DATA_DIR=/data \
    BILLING_HTTP_ADDR=0.0.0.0:8080

# distroless's "nonroot" user
USER 65532:65532

VOLUME ["/data"]
EXPOSE 8080

# The image has no shell and no HTTP client: the binary probes itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/billing", "health"]
ENTRYPOINT ["/billing"]
CMD ["serve"]

# Static, non-root image. Build: docker build -t zookeeper_exporter:0.1.0 .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="zookeeper_exporter" \
      org.opencontainers.image.description="Prometheus exporter for Apache ZooKeeper ensembles" \
      org.opencontainers.image.source="https://github.com/zookeeper-exporter/zookeeper_exporter" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/zookeeper_exporter /bin/zookeeper_exporter
EXPOSE 9141
USER nonroot:nonroot
ENTRYPOINT ["/bin/zookeeper_exporter"]

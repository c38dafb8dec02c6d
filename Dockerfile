# The gang-scheduler image the manifests deploy: a static binary on a
# distroless base, running as non-root. Build it with `make image`.
FROM gcr.io/distroless/static:nonroot
COPY bin/gang-scheduler-static /gang-scheduler
USER 65532:65532
ENTRYPOINT ["/gang-scheduler"]

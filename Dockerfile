# The gang-scheduler image the manifests deploy: the static binary, a CA
# bundle and a passwd naming the non-root user, on no base image at all, so
# it builds wherever a Docker engine runs without pulling anything.
# `make image` stages the context (make image-context) and builds it.
FROM scratch
COPY etc/ /etc/
COPY gang-scheduler /gang-scheduler
USER 65532:65532
ENTRYPOINT ["/gang-scheduler"]

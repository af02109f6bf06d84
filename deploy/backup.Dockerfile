# The image of the optional `backup` service (deploy/docker-compose.yml, profile `backup`): migtool on
# top of the postgres image the stack runs, so pg_dump is exactly the server's version.
#   docker compose -f deploy/docker-compose.yml --profile backup up -d --build backup
ARG POSTGRES_IMAGE=postgres:16
FROM ${POSTGRES_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md /src/
COPY migtool /src/migtool
# A CA bundle for pip, only when the network needs one (a TLS-inspecting proxy): a build secret,
# present only during this RUN:  docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    python3 -m venv /opt/migtool \
 && /opt/migtool/bin/pip install --no-cache-dir --disable-pip-version-check --quiet /src \
 && rm -rf /src
ENV PATH=/opt/migtool/bin:$PATH
# Not the postgres entrypoint: this container only runs migtool.
ENTRYPOINT []
CMD ["migtool", "backup", "--schedule", "0 3 * * *"]

# Builds the co-signer, broadcaster and CLI into one slim image.
# Used by compose.yaml; `docker build -t mpc-wallet .`
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
 && cp target/release/mpc target/release/mpc-cosigner target/release/mpc-broadcaster /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home mpc
COPY --from=build /usr/local/bin/mpc /usr/local/bin/mpc-cosigner /usr/local/bin/mpc-broadcaster /usr/local/bin/
USER mpc
ENV MPC_LOG=info

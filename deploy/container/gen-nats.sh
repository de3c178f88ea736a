#!/usr/bin/env sh
# Generates the three NATS node configs and every service's NATS password for compose.yaml, from kanal.toml.
# Run from this folder with Kanal installed: ./gen-nats.sh  (re-running keeps the existing passwords).
set -eu
cd "$(dirname "$0")"
routes="--route nats://nats-1:6222 --route nats://nats-2:6222 --route nats://nats-3:6222"
for n in 1 2 3; do
  # shellcheck disable=SC2086
  kanal nats config --config kanal.toml --secrets-dir secrets --out "nats/nats-$n.conf" \
    --host 0.0.0.0 --http-port 8222 --store-dir /data --server-name "nats-$n" --cluster-name kanal \
    --cluster-listen 0.0.0.0:6222 $routes  # the compose network only: no port of nats-N is published
done
printf 'replace-with-the-twilio-auth-token\n' > secrets/twilio-auth-token.example
printf 'replace-with-the-secret-in-kannel.conf-get-url\n' > secrets/kannel-secret.example
printf 'replace-with-the-kannel-sendsms-user-password\n' > secrets/kannel-sendsms-password.example
echo "now put the Twilio auth token in secrets/twilio-auth-token, the Kannel secrets in secrets/kannel-secret and"
echo "secrets/kannel-sendsms-password (connectors/kannel/README.md), and run: podman compose up -d"

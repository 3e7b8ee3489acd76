# Apache Kafka (KRaft, broker + controller per node): the jars of deploy/stack/poms/kafka
# (the local stack's), the properties deploy/stack/kafka.py generates, the start script.
#
# The `resolve` stage gathers all of it in /out. Its build context is either
# deploy/.context/kafka, which `squall compose build` resolved on the host (nothing is
# downloaded in the build), or, for a plain `docker compose build` from a fresh clone,
# the repository's root, and resolve.sh fetches from Maven Central in the build.
FROM debian:bookworm-slim AS resolve
COPY deploy/certs/ /usr/local/share/ca-certificates/squall/
COPY . /src
RUN if [ -f /src/.complete ]; then mv /src /out; else sh /src/deploy/docker/resolve.sh kafka /out; fi

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-create-home --uid 10002 kafka \
 && mkdir -p /var/lib/kafka/data && chown -R kafka /var/lib/kafka
COPY --from=resolve /out/lib /opt/kafka/lib
COPY --from=resolve /out/conf /opt/kafka/conf
COPY --from=resolve /out/run.sh /opt/kafka/run.sh
ENV KAFKA_NODE=single KAFKA_HEAP=512m
USER kafka
EXPOSE 9092 9093
CMD ["/opt/kafka/run.sh"]

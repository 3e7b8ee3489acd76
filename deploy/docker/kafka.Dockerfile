# Apache Kafka (KRaft, broker + controller per node): the jars of deploy/stack/poms/kafka
# (the local stack's), the properties deploy/stack/kafka.py generates, the start script.
#
# Built from the repository's root. The `resolve` stage (resolve.sh) gathers all of it in
# deploy/.context/kafka: as `squall compose build` resolved it on the host (offline), or
# from Maven Central in the build (a plain `docker compose build` from a fresh clone).
FROM debian:bookworm-slim AS resolve
COPY deploy/certs/ /usr/local/share/ca-certificates/squall/
COPY . /src
RUN sh /src/deploy/docker/resolve.sh kafka

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-create-home --uid 10002 kafka \
 && mkdir -p /var/lib/kafka/data && chown -R kafka /var/lib/kafka
COPY --from=resolve /src/deploy/.context/kafka/lib /opt/kafka/lib
COPY --from=resolve /src/deploy/.context/kafka/conf /opt/kafka/conf
COPY --from=resolve /src/deploy/.context/kafka/run.sh /opt/kafka/run.sh
ENV KAFKA_NODE=single KAFKA_HEAP=512m
USER kafka
EXPOSE 9092 9093
CMD ["/opt/kafka/run.sh"]

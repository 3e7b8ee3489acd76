# Apache Kafka (KRaft, broker + controller per node) from the jars of
# deploy/stack/poms/kafka (the local stack's), resolved on the host into
# deploy/.context/kafka with the generated properties and start script.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-create-home --uid 10002 kafka \
 && mkdir -p /var/lib/kafka/data && chown -R kafka /var/lib/kafka
COPY lib /opt/kafka/lib
COPY conf /opt/kafka/conf
COPY run.sh /opt/kafka/run.sh
ENV KAFKA_NODE=single KAFKA_HEAP=512m
USER kafka
EXPOSE 9092 9093
CMD ["/opt/kafka/run.sh"]

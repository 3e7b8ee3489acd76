# Apache Druid (and ZooKeeper, whose jars Druid's pom brings) from the jars of
# deploy/stack/poms/druid (the local stack's version), with the configuration generated
# by deploy/stack/druid_conf.py; one start script per service (run-<service>.sh).
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-create-home --uid 10003 druid \
 && mkdir -p /var/lib/druid/segment-cache /var/lib/zookeeper/data \
 && chown -R druid /var/lib/druid /var/lib/zookeeper
COPY lib /opt/druid/lib
COPY conf /opt/druid/conf
COPY zookeeper /opt/druid/zookeeper
COPY run-*.sh /opt/druid/
USER druid

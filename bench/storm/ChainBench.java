// Apache Storm's own run of bench/compute.py's chain: spout -> bolt -> bolt in storm-server's
// LocalCluster (one JVM), parallelism 1 each, one worker, one acker with acking on (none with
// it off), max spout pending 5,000 with acking on (Storm ignores it for untracked tuples, as
// Squall's bench leaves it unset then). Compiled and run by bench/storm.py:
//
//     java -cp <storm jars>:<classes> ChainBench on|off <warm-up s> <window s>
//
// Prints one JSON line: tuples fully processed (acked by the spout with acking on; executed
// by the sink with it off) per second over the window after the warm-up, and the process's
// CPU seconds over that window (OperatingSystemMXBean.getProcessCpuTime).

import java.lang.management.ManagementFactory;
import java.util.Map;
import org.apache.storm.Config;
import org.apache.storm.LocalCluster;
import org.apache.storm.spout.SpoutOutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.BasicOutputCollector;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.TopologyBuilder;
import org.apache.storm.topology.base.BaseBasicBolt;
import org.apache.storm.topology.base.BaseRichSpout;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;
import org.apache.storm.tuple.Values;

public final class ChainBench {
    // one writer each (the spout's and the sink's executor thread), read by main
    static volatile long acked;
    static volatile long executed;
    static volatile long failed;

    /** An increasing counter, with its value as message id when tracked (as Counter in
     *  bench/compute.py), without end: the window is timed. */
    public static final class Counter extends BaseRichSpout {
        private final boolean tracked;
        private SpoutOutputCollector collector;
        private long i;

        Counter(boolean tracked) {
            this.tracked = tracked;
        }

        @Override
        public void open(Map<String, Object> conf, TopologyContext context,
                         SpoutOutputCollector collector) {
            this.collector = collector;
        }

        @Override
        public void nextTuple() {
            i++;
            if (tracked) {
                collector.emit(new Values(i), i);
            } else {
                collector.emit(new Values(i));
            }
        }

        @Override
        public void ack(Object msgId) {
            acked++;
        }

        @Override
        public void fail(Object msgId) {
            failed++;
        }

        @Override
        public void declareOutputFields(OutputFieldsDeclarer declarer) {
            declarer.declare(new Fields("n"));
        }
    }

    /** Emits n + 1 anchored to its input, acked when execute returns (Squall's auto_ack). */
    public static final class Increment extends BaseBasicBolt {
        @Override
        public void execute(Tuple tuple, BasicOutputCollector collector) {
            collector.emit(new Values(tuple.getLong(0) + 1));
        }

        @Override
        public void declareOutputFields(OutputFieldsDeclarer declarer) {
            declarer.declare(new Fields("n"));
        }
    }

    /** Sums what it gets (Sum in bench/compute.py). */
    public static final class Sum extends BaseBasicBolt {
        private long total;

        @Override
        public void execute(Tuple tuple, BasicOutputCollector collector) {
            total += tuple.getLong(0);
            executed++;
        }

        @Override
        public void declareOutputFields(OutputFieldsDeclarer declarer) {
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static long done(boolean tracked) {
        return tracked ? acked : executed;
    }

    public static void main(String[] args) throws Exception {
        boolean tracked = args[0].equals("on");
        double warmUp = Double.parseDouble(args[1]);
        double window = Double.parseDouble(args[2]);

        TopologyBuilder builder = new TopologyBuilder();
        builder.setSpout("spout", new Counter(tracked), 1);
        builder.setBolt("increment", new Increment(), 1).shuffleGrouping("spout");
        builder.setBolt("sum", new Sum(), 1).shuffleGrouping("increment");

        Config conf = new Config();
        conf.setNumWorkers(1);
        conf.setNumAckers(tracked ? 1 : 0);
        if (tracked) {
            conf.setMaxSpoutPending(5_000);
        }
        conf.setDebug(false);

        long startup = System.nanoTime();
        try (LocalCluster cluster = new LocalCluster()) {
            cluster.submitTopology("chain-" + args[0], conf, builder.createTopology());
            while (done(tracked) == 0) {
                Thread.sleep(10);
            }
            double firstTuple = (System.nanoTime() - startup) / 1e9;
            Thread.sleep((long) (warmUp * 1000));
            long n0 = done(tracked);
            long c0 = cpuNanos();
            long t0 = System.nanoTime();
            Thread.sleep((long) (window * 1000));
            long n1 = done(tracked);
            long c1 = cpuNanos();
            long t1 = System.nanoTime();
            double elapsed = (t1 - t0) / 1e9;
            double cpu = (c1 - c0) / 1e9;
            System.out.printf(
                "{\"acking\": %b, \"tuples\": %d, \"elapsed\": %.3f, \"cpu_s\": %.3f, "
                    + "\"rate\": %.1f, \"first_tuple_s\": %.2f, \"warm_up_s\": %.1f, "
                    + "\"failed\": %d}%n",
                tracked, n1 - n0, elapsed, cpu, (n1 - n0) / elapsed, firstTuple, warmUp, failed);
            System.out.flush();
            cluster.killTopology("chain-" + args[0]);
        }
        System.exit(0);
    }
}

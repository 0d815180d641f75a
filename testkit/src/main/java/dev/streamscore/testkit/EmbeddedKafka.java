package dev.streamscore.testkit;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real Kafka broker in this JVM: one combined broker + controller in KRaft mode, from Kafka's own
 * server jars, listening on loopback. For the demo and the system tests; production uses a real
 * Kafka cluster.
 *
 * <pre>{@code
 * try (EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
 *     kafka.createTopics(2, "transactions", "fraud-scores");
 *     String bootstrap = kafka.bootstrapServers();
 * }
 * }</pre>
 */
public final class EmbeddedKafka implements AutoCloseable {

    private final KafkaClusterTestKit cluster;
    private final String bootstrapServers;
    private final short replication;

    private EmbeddedKafka(KafkaClusterTestKit cluster, String bootstrapServers) {
        this(cluster, bootstrapServers, (short) 1);
    }

    private EmbeddedKafka(KafkaClusterTestKit cluster, String bootstrapServers, short replication) {
        this.cluster = cluster;
        this.bootstrapServers = bootstrapServers;
        this.replication = replication;
    }

    /**
     * Formats and starts a broker.
     *
     * @param port the client port on localhost, or 0 for any free port
     */
    public static EmbeddedKafka start(int port) throws Exception {
        return start(port, Map.of());
    }

    /**
     * As {@link #start(int)}, with {@code brokerConfig} over the broker's settings: for a test's
     * own listeners (a {@code SASL_SSL} one beside the plaintext ones, say).
     */
    public static EmbeddedKafka start(int port, Map<String, String> brokerConfig) throws Exception {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("Kafka port must be 0..65535, got " + port);
        }
        KafkaClusterTestKit.Builder builder =
                new KafkaClusterTestKit.Builder(
                                new TestKitNodes.Builder()
                                        .setCombined(true)
                                        .setNumBrokerNodes(1)
                                        .setNumControllerNodes(1)
                                        .build())
                        .setConfigProp("offsets.topic.replication.factor", "1")
                        .setConfigProp("offsets.topic.num.partitions", "4")
                        .setConfigProp("transaction.state.log.replication.factor", "1")
                        .setConfigProp("transaction.state.log.min.isr", "1")
                        .setConfigProp("transaction.state.log.num.partitions", "4")
                        .setConfigProp("group.initial.rebalance.delay.ms", "0")
                        .setConfigProp("auto.create.topics.enable", "false")
                        .setConfigProp("num.partitions", "2");
        if (port > 0) {
            // The test kit pre-binds random ports for its own listener names, so a fixed port gets
            // a listener of its own; clients that bootstrap through it are answered with its
            // address.
            builder.setConfigProp(
                            "listeners",
                            "EXTERNAL://localhost:0,CONTROLLER://localhost:0,CLIENTS://localhost:"
                                    + port)
                    .setConfigProp(
                            "listener.security.protocol.map",
                            "EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,CLIENTS:PLAINTEXT");
        }
        brokerConfig.forEach(builder::setConfigProp);
        KafkaClusterTestKit cluster = builder.build();
        java.io.PrintStream stdout = System.out;
        try {
            // The storage formatter prints its bootstrap metadata to stdout; keep the demo's clean.
            System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
            try {
                cluster.format();
            } finally {
                System.setOut(stdout);
            }
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception e) {
            cluster.close();
            throw new IllegalStateException(
                    "could not start the embedded Kafka broker"
                            + (port > 0 ? " on port " + port + " (is it in use?)" : "")
                            + ": "
                            + e.getMessage(),
                    e);
        }
        return new EmbeddedKafka(
                cluster, port > 0 ? "localhost:" + port : cluster.bootstrapServers());
    }

    /**
     * A cluster of {@code brokers} brokers and one separate KRaft controller, every internal topic
     * replicated to all brokers with {@code min.insync.replicas} one less, and topics made by
     * {@link #createTopics} replicated likewise: for tests that lose a broker.
     */
    public static EmbeddedKafka startCluster(int brokers) throws Exception {
        if (brokers < 2) {
            throw new IllegalArgumentException(
                    "a cluster needs at least 2 brokers, got " + brokers);
        }
        String replicas = Integer.toString(brokers);
        String minIsr = Integer.toString(brokers - 1);
        KafkaClusterTestKit cluster =
                new KafkaClusterTestKit.Builder(
                                new TestKitNodes.Builder()
                                        .setCombined(false)
                                        .setNumBrokerNodes(brokers)
                                        .setNumControllerNodes(1)
                                        .build())
                        .setConfigProp("offsets.topic.replication.factor", replicas)
                        .setConfigProp("offsets.topic.num.partitions", "4")
                        .setConfigProp("transaction.state.log.replication.factor", replicas)
                        .setConfigProp("transaction.state.log.min.isr", minIsr)
                        .setConfigProp("transaction.state.log.num.partitions", "4")
                        .setConfigProp("default.replication.factor", replicas)
                        .setConfigProp("min.insync.replicas", minIsr)
                        .setConfigProp("group.initial.rebalance.delay.ms", "0")
                        .setConfigProp("auto.create.topics.enable", "false")
                        .build();
        try {
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception e) {
            cluster.close();
            throw new IllegalStateException("could not start an embedded Kafka cluster: " + e, e);
        }
        return new EmbeddedKafka(cluster, cluster.bootstrapServers(), (short) brokers);
    }

    /** Ids of the running brokers. */
    public java.util.Set<Integer> brokerIds() {
        return java.util.Set.copyOf(cluster.brokers().keySet());
    }

    /**
     * Shuts broker {@code id} down (a controlled shutdown: its partitions' leadership moves to the
     * other replicas first) and keeps it down.
     */
    public void stopBroker(int id) {
        kafka.server.BrokerServer broker = cluster.brokers().get(id);
        if (broker == null) {
            throw new IllegalArgumentException("no broker " + id + "; brokers: " + brokerIds());
        }
        broker.shutdown();
        broker.awaitShutdown();
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /**
     * {@code localhost:<port>} of the broker's listener {@code listenerName}, as named in a {@code
     * listeners} setting given to {@link #start(int, Map)} (with port 0: the port it bound).
     */
    public String listenerAddress(String listenerName) {
        int port =
                cluster.brokers()
                        .values()
                        .iterator()
                        .next()
                        .boundPort(ListenerName.normalised(listenerName));
        return "localhost:" + port;
    }

    /**
     * Creates each topic with its number of partitions (a job's {@code topicPartitions}); existing
     * ones are left as they are.
     */
    public void createTopics(java.util.Map<String, Integer> partitionsByTopic) throws Exception {
        for (var topic : partitionsByTopic.entrySet()) {
            createTopics(topic.getValue(), topic.getKey());
        }
    }

    /**
     * Creates topics with {@code partitions} partitions each; existing ones are left as they are.
     */
    public void createTopics(int partitions, String... topics) throws Exception {
        try (Admin admin = Admin.create(KafkaClients.admin(bootstrapServers()))) {
            for (String topic : topics) {
                try {
                    admin.createTopics(List.of(new NewTopic(topic, partitions, replication)))
                            .all()
                            .get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            awaitLeaders(admin, List.of(topics));
        }
    }

    /**
     * Waits until every partition has a leader: a producer that writes to a partition the broker
     * has not taken on yet gets NOT_LEADER and, idempotent, can then fail its retries with an
     * out-of-order sequence.
     */
    private static void awaitLeaders(Admin admin, List<String> topics) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (true) {
            boolean ready;
            try {
                ready =
                        admin.describeTopics(topics).allTopicNames().get().values().stream()
                                .flatMap(d -> d.partitions().stream())
                                .allMatch(p -> p.leader() != null && !p.leader().isEmpty());
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause()
                        instanceof
                        org.apache.kafka.common.errors.UnknownTopicOrPartitionException)) {
                    throw e;
                }
                ready = false; // created, not yet known to the broker that answered
            }
            if (ready) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("topics " + topics + " have no leader after 30 s");
            }
            Thread.sleep(20);
        }
    }

    /** Deletes topics and waits until the broker has. */
    public void deleteTopics(java.util.Collection<String> topics) throws Exception {
        try (Admin admin = Admin.create(KafkaClients.admin(bootstrapServers()))) {
            admin.deleteTopics(topics).all().get();
        }
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}

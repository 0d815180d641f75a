package dev.streamscore.test;

import dev.streamscore.testkit.EmbeddedKafka;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An in-process Kafka broker (or cluster) for the tests of one class: started before the first,
 * closed after the last, also when a test fails.
 *
 * <pre>{@code
 * @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();
 * ... KAFKA.get().bootstrapServers() ...
 * }</pre>
 */
final class EmbeddedKafkaExtension implements BeforeAllCallback, AfterAllCallback {

    /** Starts what the extension provides. */
    @FunctionalInterface
    private interface Starter {
        EmbeddedKafka start() throws Exception;
    }

    private final Starter starter;
    private EmbeddedKafka kafka;

    private EmbeddedKafkaExtension(Starter starter) {
        this.starter = starter;
    }

    /** One broker on a free port. */
    static EmbeddedKafkaExtension broker() {
        return new EmbeddedKafkaExtension(() -> EmbeddedKafka.start(0));
    }

    /** {@code brokers} brokers, topics replicated across them. */
    static EmbeddedKafkaExtension cluster(int brokers) {
        return new EmbeddedKafkaExtension(() -> EmbeddedKafka.startCluster(brokers));
    }

    /** The running broker; only between the class's first and last test. */
    EmbeddedKafka get() {
        if (kafka == null) {
            throw new IllegalStateException("the embedded Kafka runs only while the tests do");
        }
        return kafka;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        kafka = starter.start();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (kafka != null) {
            kafka.close();
            kafka = null;
        }
    }
}

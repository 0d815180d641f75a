package dev.streamscore.pipeline.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The registry client against a real Apicurio Registry process: registration and lookup by id of a
 * schema and of its next version, an unknown id, a registry that stops and comes back.
 */
class SchemaRegistryClientITCase {

    static ApicurioRegistry registry;

    static final Schema V1 =
            SchemaBuilder.record("Payout")
                    .namespace("example")
                    .fields()
                    .requiredString("payout_id")
                    .requiredLong("amount_minor")
                    .endRecord();

    /** V1 and a field with a default: a compatible next version. */
    static final Schema V2 =
            SchemaBuilder.record("Payout")
                    .namespace("example")
                    .fields()
                    .requiredString("payout_id")
                    .requiredLong("amount_minor")
                    .name("channel")
                    .type()
                    .stringType()
                    .stringDefault("web")
                    .endRecord();

    @BeforeAll
    static void start() throws Exception {
        registry = new ApicurioRegistry().start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    @Test
    void registersAndFindsEachVersionByItsId() throws Exception {
        SchemaRegistryClient client = new SchemaRegistryClient(registry.url(), Map.of());
        int v1 = client.register("payouts-value", V1);
        int v2 = client.register("payouts-value", V2);
        assertThat(v2).isNotEqualTo(v1);
        assertThat(client.register("payouts-value", V1)).as("the same schema again").isEqualTo(v1);

        SchemaRegistryClient reader = new SchemaRegistryClient(registry.url(), Map.of());
        assertThat(reader.schemaById(v1)).isEqualTo(V1);
        assertThat(reader.schemaById(v2)).isEqualTo(V2);
    }

    @Test
    void anUnknownIdIsNotFoundAndNotAskedAgainForAWhile() throws Exception {
        AtomicLong now = new AtomicLong(1_000);
        SchemaRegistryClient client =
                new SchemaRegistryClient(
                        registry.url(),
                        Map.of(),
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(30),
                        now::get);
        assertThatThrownBy(() -> client.schemaById(987_654))
                .isInstanceOf(RegistryException.class)
                .hasMessageContaining("schema id 987654 is not in the registry")
                .extracting(e -> ((RegistryException) e).kind())
                .isEqualTo(RegistryException.Kind.NOT_FOUND);
        long asked = client.requestsSent();
        assertThatThrownBy(() -> client.schemaById(987_654)).isInstanceOf(RegistryException.class);
        assertThat(client.requestsSent()).as("remembered as unknown").isEqualTo(asked);
        now.addAndGet(31_000);
        assertThatThrownBy(() -> client.schemaById(987_654)).isInstanceOf(RegistryException.class);
        assertThat(client.requestsSent()).as("asked again after 30 s").isEqualTo(asked + 1);

        int id = new SchemaRegistryClient(registry.url(), Map.of()).register("later-value", V1);
        assertThat(client.schemaById(id)).isEqualTo(V1);
        long afterFetch = client.requestsSent();
        assertThat(client.schemaById(id)).isEqualTo(V1);
        assertThat(client.requestsSent()).as("a known id is kept").isEqualTo(afterFetch);
    }

    @Test
    void aRegistryThatIsDownIsUnavailableAndACachedSchemaStillServes() throws Exception {
        try (ApicurioRegistry own = new ApicurioRegistry().start()) {
            SchemaRegistryClient client =
                    new SchemaRegistryClient(
                            own.url(),
                            Map.of(),
                            Duration.ofSeconds(2),
                            Duration.ofSeconds(30),
                            System::currentTimeMillis);
            int id = client.register("down-value", V1);
            own.stop();
            assertThat(client.schemaById(id)).as("cached").isEqualTo(V1);
            long asked = client.requestsSent();
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.schemaById(id + 1))
                    .isInstanceOf(RegistryException.class)
                    .hasMessageContaining("did not answer")
                    .extracting(e -> ((RegistryException) e).kind())
                    .isEqualTo(RegistryException.Kind.UNAVAILABLE);
            assertThat(System.nanoTime() - start)
                    .as("at most the timeout, and a margin")
                    .isLessThan(4_000_000_000L);
            // The same id again soon: the same cause at once, no second wait.
            assertThatThrownBy(() -> client.schemaById(id + 1))
                    .isInstanceOf(RegistryException.class)
                    .hasMessageContaining("not asked again");
            assertThat(client.requestsSent()).isEqualTo(asked + 1);
            own.start();
            // Its in-memory store starts empty: registering again works.
            assertThat(client.register("down-value", V2)).isGreaterThanOrEqualTo(0);
        }
    }

    @Test
    void aUrlThatIsNotHttpIsRefusedAtOnce() {
        assertThatThrownBy(() -> new SchemaRegistryClient(URI.create("ftp://x/"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("http(s)://host");
    }
}

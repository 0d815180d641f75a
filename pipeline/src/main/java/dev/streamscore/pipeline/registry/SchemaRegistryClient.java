package dev.streamscore.pipeline.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * A client of a schema registry's Confluent-compatible REST API (Confluent's Schema Registry,
 * Apicurio's {@code /apis/ccompat/v7}, Karapace): the writer schema of a schema id, and the
 * registration of a schema under a subject. Over the JDK's HTTP client, as Confluent's own client
 * jars are not on Maven Central.
 *
 * <p>A schema id names one schema forever, so a schema once fetched is kept for the client's life.
 * An id the registry does not know is remembered as unknown for {@code unknownFor} (a record with a
 * made-up id does not cost a request each time). A registry that does not answer within {@code
 * timeout} is an {@link RegistryException.Kind#UNAVAILABLE} error; for the next {@code unknownFor}
 * the same id fails at once with the same cause rather than waiting again, so a registry that is
 * down costs one wait of at most {@code timeout} per new id, not one per record.
 *
 * <p>Credentials: {@code basic.auth.user.info} ({@code user:password}, Confluent's property name)
 * is sent as HTTP basic authentication, never logged or put in a message.
 *
 * <pre>{@code
 * SchemaRegistryClient registry =
 *         new SchemaRegistryClient(URI.create("http://localhost:8080/apis/ccompat/v7"), Map.of());
 * int id = registry.register("payments-value", schema);
 * Schema writer = registry.schemaById(id);
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class SchemaRegistryClient {

    /** How long a request may take by default. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    /** How long an id the registry does not know is not asked about again, by default. */
    public static final Duration DEFAULT_UNKNOWN_FOR = Duration.ofSeconds(30);

    /** The property with {@code user:password} for HTTP basic authentication. */
    public static final String BASIC_AUTH_USER_INFO = "basic.auth.user.info";

    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI base;
    private final Duration timeout;
    private final long unknownForMillis;
    private final LongSupplier clock;
    private final String authorization;
    private final HttpClient http;
    private final Map<Integer, Schema> schemas = new ConcurrentHashMap<>();

    /** Ids the registry did not know or could not be asked about, until when not to ask again. */
    private final Map<Integer, Refusal> refused = new ConcurrentHashMap<>();

    private record Refusal(long until, RegistryException cause) {}

    private final java.util.concurrent.atomic.AtomicLong requests =
            new java.util.concurrent.atomic.AtomicLong();

    public SchemaRegistryClient(URI base, Map<String, String> properties) {
        this(base, properties, DEFAULT_TIMEOUT, DEFAULT_UNKNOWN_FOR, System::currentTimeMillis);
    }

    /**
     * @param base the API's root, e.g. {@code http://registry:8080/apis/ccompat/v7}
     * @param properties client settings ({@link #BASIC_AUTH_USER_INFO})
     * @param timeout the longest a request may take, connecting included
     * @param unknownFor how long an unknown id is not asked about again
     * @param clock milliseconds, for {@code unknownFor}
     */
    public SchemaRegistryClient(
            URI base,
            Map<String, String> properties,
            Duration timeout,
            Duration unknownFor,
            LongSupplier clock) {
        String scheme = base.getScheme();
        if (scheme == null
                || !(scheme.equals("http") || scheme.equals("https"))
                || base.getHost() == null) {
            throw new IllegalArgumentException(
                    "schema registry URL must be http(s)://host[:port]/path, got " + base);
        }
        String root = base.toString();
        this.base = URI.create(root.endsWith("/") ? root : root + "/");
        this.timeout = timeout;
        this.unknownForMillis = unknownFor.toMillis();
        this.clock = clock;
        String userInfo = properties.get(BASIC_AUTH_USER_INFO);
        this.authorization =
                userInfo == null
                        ? null
                        : "Basic "
                                + Base64.getEncoder()
                                        .encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    }

    /** Requests sent to the registry so far (a metric: how often the cache did not answer). */
    public long requestsSent() {
        return requests.get();
    }

    /** Where the client asks, without credentials. */
    public URI base() {
        return base;
    }

    /**
     * The schema registered with {@code id}.
     *
     * @throws RegistryException {@code NOT_FOUND} for an id the registry does not know, {@code
     *     UNAVAILABLE} when it cannot be asked, {@code INVALID} when its answer is not an Avro
     *     schema
     */
    public Schema schemaById(int id) throws RegistryException {
        Schema known = schemas.get(id);
        if (known != null) {
            return known;
        }
        long now = clock.getAsLong();
        Refusal refusal = refused.get(id);
        if (refusal != null && now < refusal.until()) {
            throw new RegistryException(
                    refusal.cause().kind(),
                    refusal.cause().getMessage()
                            + " (not asked again for "
                            + (refusal.until() - now)
                            + " ms)");
        }
        JsonNode answer;
        try {
            answer = send(request("schemas/ids/" + id).GET().build(), "schema id " + id);
            if (answer == null) {
                throw new RegistryException(
                        RegistryException.Kind.NOT_FOUND,
                        "schema id " + id + " is not in the registry at " + base);
            }
        } catch (RegistryException e) {
            if (e.kind() != RegistryException.Kind.INVALID) {
                refused.put(id, new Refusal(now + unknownForMillis, e));
            }
            throw e;
        }
        refused.remove(id);
        JsonNode type = answer.get("schemaType");
        if (type != null && !type.asText().equals("AVRO")) {
            throw new RegistryException(
                    RegistryException.Kind.INVALID,
                    "schema id " + id + " is a " + type.asText() + " schema, not Avro");
        }
        JsonNode text = answer.get("schema");
        if (text == null || !text.isTextual()) {
            throw new RegistryException(
                    RegistryException.Kind.INVALID,
                    "the registry's answer for schema id " + id + " has no schema");
        }
        Schema schema;
        try {
            schema = new Schema.Parser().setValidateDefaults(false).parse(text.asText());
        } catch (SchemaParseException | IllegalArgumentException e) {
            throw new RegistryException(
                    RegistryException.Kind.INVALID,
                    "schema id " + id + " is not a valid Avro schema: " + e.getMessage());
        }
        schemas.put(id, schema);
        return schema;
    }

    /**
     * Registers {@code schema} under {@code subject} (a no-op for a schema the subject has) and
     * returns its id.
     */
    public int register(String subject, Schema schema) throws RegistryException {
        String body;
        try {
            body = JSON.writeValueAsString(Map.of("schema", schema.toString()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String path =
                "subjects/" + URLEncoder.encode(subject, StandardCharsets.UTF_8) + "/versions";
        JsonNode answer =
                send(
                        request(path)
                                .header("Content-Type", CONTENT_TYPE)
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .build(),
                        "registering a schema under " + subject);
        if (answer == null || answer.get("id") == null || !answer.get("id").canConvertToInt()) {
            throw new RegistryException(
                    RegistryException.Kind.INVALID,
                    "the registry gave no schema id for " + subject + ": " + answer);
        }
        int id = answer.get("id").intValue();
        schemas.putIfAbsent(id, schema);
        return id;
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(base.resolve(path))
                        .timeout(timeout)
                        .header("Accept", CONTENT_TYPE + ", application/json");
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return b;
    }

    /** The answer's JSON; null for a 404; else a RegistryException. */
    private JsonNode send(HttpRequest request, String what) throws RegistryException {
        HttpResponse<String> response;
        requests.incrementAndGet();
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RegistryException(
                    RegistryException.Kind.UNAVAILABLE,
                    what + ": the registry at " + base + " did not answer: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryException(RegistryException.Kind.UNAVAILABLE, what + ": interrupted");
        }
        int status = response.statusCode();
        if (status == 404) {
            return null;
        }
        if (status == 401 || status == 403) {
            throw new RegistryException(
                    RegistryException.Kind.UNAVAILABLE,
                    what
                            + ": the registry at "
                            + base
                            + " refused the credentials (HTTP "
                            + status
                            + "); set "
                            + BASIC_AUTH_USER_INFO);
        }
        if (status / 100 != 2) {
            throw new RegistryException(
                    status >= 500
                            ? RegistryException.Kind.UNAVAILABLE
                            : RegistryException.Kind.INVALID,
                    what + ": HTTP " + status + " from " + base + ": " + cut(response.body()));
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new RegistryException(
                    RegistryException.Kind.INVALID,
                    what + ": the registry's answer is not JSON: " + cut(response.body()));
        }
    }

    private static String cut(String s) {
        return s == null || s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}

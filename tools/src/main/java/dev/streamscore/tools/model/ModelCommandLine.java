package dev.streamscore.tools.model;

import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.models.ModelArtifact;
import dev.streamscore.operators.lifecycle.ModelCommands;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.tools.cli.JobOptions;
import dev.streamscore.tools.model.compress.ModelCompressor;
import dev.streamscore.tools.model.compress.ModelInspection;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.flink.configuration.ConfigOption;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore model}: changes the models of a running job through its control topic and
 * reads what every inference subtask did from its status topic, so that nobody hand-encodes Avro.
 *
 * <pre>
 * ./streamscore model deploy --bootstrap-servers kafka:9092 /models/gbdt-2026-12-02
 * ./streamscore model deploy --role challenger /models/mlp-2026-12-02
 * ./streamscore model rollback
 * ./streamscore model retire
 * ./streamscore model status
 * ./streamscore model inspect bundled:gbdt
 * ./streamscore model compress bundled:mlp --method int8 --out /models/mlp-int8
 * ./streamscore model compress bundled:gbdt --method prune --trees 100 --out /models/gbdt-prune100
 * ./streamscore model compress bundled:gbdt --method prune --target-drop 0.005 --data heldout.csv \
 *     --out /models/gbdt-pruned
 * ./streamscore model evaluate bundled:deep /models/deep-int8 --data heldout.csv --max-pr-auc-drop 0.005
 * </pre>
 *
 * <p>{@code inspect}, {@code compress} and {@code evaluate} work on model files only and take no
 * Kafka options.
 */
@Command(
        name = "model",
        mixinStandardHelpOptions = true,
        description =
                "Change the models of a running job, and see what its subtasks serve; inspect,"
                        + " compress and evaluate model files.",
        subcommands = {
            ModelCommandLine.Deploy.class,
            ModelCommandLine.Rollback.class,
            ModelCommandLine.Retire.class,
            ModelCommandLine.Status.class,
            ModelCommandLine.Inspect.class,
            ModelCommandLine.Compress.class,
            EvaluateCommand.class,
            PlotCommand.class
        })
public final class ModelCommandLine {

    /** The subcommands that talk to the job through Kafka, and so take {@link #OPTIONS}. */
    public static final List<String> KAFKA_COMMANDS =
            List.of("deploy", "rollback", "retire", "status");

    /** The job options the model commands take: where Kafka is, how to reach it, the topics. */
    public static final List<ConfigOption<?>> OPTIONS =
            List.of(
                    ScoringOptions.BOOTSTRAP_SERVERS,
                    ScoringOptions.KAFKA_CONFIG,
                    ScoringOptions.CONTROL_TOPIC,
                    ScoringOptions.MODEL_STATUS_TOPIC);

    /** Exit code when a subtask refused the command. */
    static final int REFUSED = 3;

    /** Exit code when not every subtask answered in time. */
    static final int NO_ANSWER = 4;

    private static final SingleObjectCodec<ModelCommand> COMMANDS =
            SingleObjectCodec.of(ModelCommand.class);
    private static final SingleObjectCodec<ModelStatus> STATUSES =
            SingleObjectCodec.of(ModelStatus.class);

    /** What the subcommands that write a command share. */
    abstract static class Writing implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Option(
                names = "--wait",
                defaultValue = "120s",
                description =
                        "How long to wait for every subtask's answer on the status topic (0s:"
                                + " do not wait). Default: ${DEFAULT-VALUE}.")
        String waitFor;

        abstract ModelCommand command(String issuedBy) throws Exception;

        @Override
        public Integer call() throws Exception {
            ScoringConfig config =
                    ScoringConfig.from(
                            JobOptions.toConfiguration(spec.commandLine().getParseResult()));
            if (!config.modelControl()) {
                throw new IllegalArgumentException(
                        "control-topic is empty: the job takes no model commands");
            }
            PrintWriter out = spec.commandLine().getOut();
            ModelCommand command = command(issuer());
            String problem = ModelCommands.problemWith(command);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
            Instant written = write(config, command);
            out.printf(
                    "streamscore: wrote command %s to %s: %s%n",
                    command.getCommandId(), config.controlTopic(), describe(command));
            out.flush();
            Duration wait = Duration.parse("PT" + waitFor.trim().toUpperCase());
            if (wait.isZero()) {
                return 0;
            }
            return awaitAnswers(config, command, written, wait, out);
        }
    }

    @Command(
            name = "deploy",
            mixinStandardHelpOptions = true,
            description =
                    "Deploy the model in FOLDER as champion (it decides) or challenger (it scores"
                        + " in shadow). Its descriptor and SHA-256 are read here; the TaskManagers"
                        + " load and verify it from --location.")
    static final class Deploy extends Writing {
        @Parameters(index = "0", paramLabel = "FOLDER", description = "The model's folder.")
        String folder;

        @Option(
                names = "--role",
                defaultValue = "champion",
                description = "champion or challenger. Default: ${DEFAULT-VALUE}.")
        String role;

        @Option(
                names = "--location",
                description =
                        "Where the TaskManagers read the model: a path, file: or http(s): URL."
                                + " Default: FOLDER's absolute path.")
        String location;

        @Override
        ModelCommand command(String issuedBy) {
            ModelArtifact artifact = ModelArtifact.load(folder);
            String where =
                    location != null
                            ? location
                            : folder.startsWith(ModelArtifact.BUNDLED)
                                    ? folder
                                    : Path.of(folder).toAbsolutePath().normalize().toString();
            return ModelCommands.deploy(artifact.descriptor(), where, role(role), issuedBy);
        }
    }

    @Command(
            name = "rollback",
            mixinStandardHelpOptions = true,
            description = "Return to the champion before the current one.")
    static final class Rollback extends Writing {
        @Override
        ModelCommand command(String issuedBy) {
            return ModelCommands.rollback(issuedBy);
        }
    }

    @Command(name = "retire", mixinStandardHelpOptions = true, description = "Stop the challenger.")
    static final class Retire extends Writing {
        @Override
        ModelCommand command(String issuedBy) {
            return ModelCommands.retireChallenger(issuedBy);
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description =
                    "What each inference subtask serves now, from the status topic, and the"
                            + " latest status records.")
    static final class Status implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Option(
                names = "--last",
                defaultValue = "10",
                description = "Status records to list. Default: ${DEFAULT-VALUE}.")
        int last;

        @Override
        public Integer call() {
            ScoringConfig config =
                    ScoringConfig.from(
                            JobOptions.toConfiguration(spec.commandLine().getParseResult()));
            PrintWriter out = spec.commandLine().getOut();
            List<ModelStatus> all = readStatuses(config, null, Duration.ofSeconds(30), out);
            // What serves now: per role and subtask, the model of its last ACTIVE or RETIRED.
            Map<String, ModelStatus> serving = new TreeMap<>();
            int parallelism = all.isEmpty() ? 0 : all.get(all.size() - 1).getParallelism();
            for (ModelStatus s : all) {
                // Subtasks of an earlier parallelism (before a rescale) no longer exist.
                if ((s.getState() == ModelState.ACTIVE || s.getState() == ModelState.RETIRED)
                        && s.getParallelism() == parallelism) {
                    serving.put(s.getRole() + " " + s.getSubtask(), s);
                }
            }
            out.printf(
                    "%-12s %-8s %-32s %-10s %s%n", "ROLE", "SUBTASK", "MODEL", "SINCE", "COMMAND");
            for (ModelStatus s : serving.values()) {
                out.printf(
                        "%-12s %-8s %-32s %-10s %s%n",
                        s.getRole().toString().toLowerCase(),
                        s.getSubtask() + "/" + s.getParallelism(),
                        s.getState() == ModelState.RETIRED
                                ? "(none)"
                                : s.getModelName() + ":" + s.getModelVersion(),
                        s.getAt().toString().substring(11, 19),
                        s.getCommandId());
            }
            out.println();
            out.println("latest status records:");
            for (ModelStatus s : all.subList(Math.max(0, all.size() - last), all.size())) {
                out.println("  " + line(s));
            }
            return 0;
        }
    }

    @Command(
            name = "inspect",
            mixinStandardHelpOptions = true,
            description =
                    "What a model file holds: inputs and outputs, ONNX versions, operators,"
                            + " parameters, size, trees, and how it was made.")
    static final class Inspect implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(
                index = "0",
                paramLabel = "MODEL",
                description = "bundled:<id> (gbdt, mlp, ...) or a folder holding descriptor.json.")
        String model;

        @Override
        public Integer call() {
            ModelInspection.of(model).print(spec.commandLine().getOut());
            return 0;
        }
    }

    @Command(
            name = "compress",
            mixinStandardHelpOptions = true,
            description = {
                "Write a smaller or faster variant of MODEL as a model folder (model.onnx,"
                        + " descriptor.json with its provenance, the parity sample) that deploy"
                        + " and evaluate take.",
                "int8: dynamic int8 quantization of the MatMul/Gemm weights (networks). fp16:"
                        + " float16 weights and arithmetic inside, float32 in and out (networks;"
                        + " for GPU providers). prune: the first N trees of a tree ensemble."
            })
    static final class Compress implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(
                index = "0",
                paramLabel = "MODEL",
                description = "bundled:<id> (gbdt, mlp, ...) or a folder holding descriptor.json.")
        String model;

        @Option(names = "--method", required = true, description = "int8, fp16 or prune.")
        String method;

        @Option(names = "--out", required = true, description = "The folder to write.")
        Path out;

        @Option(names = "--trees", paramLabel = "N", description = "prune: keep the first N trees.")
        Integer trees;

        @Option(
                names = "--target-drop",
                paramLabel = "X",
                description =
                        "prune: keep the fewest first trees whose PR-AUC on --data is at most X"
                                + " below the whole model's, e.g. 0.005.")
        Double targetDrop;

        @Option(
                names = "--data",
                paramLabel = "CSV",
                description =
                        "prune --target-drop: labelled rows as export-training-data writes them.")
        Path data;

        @Option(
                names = "--per-tensor",
                description = "int8: one weight scale per tensor instead of one per column.")
        boolean perTensor;

        @Option(
                names = "--force",
                description = "Overwrite the model files of a non-empty --out folder.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            ModelCompressor.Report r =
                    ModelCompressor.compress(
                            new ModelCompressor.Request(
                                    model,
                                    ModelCompressor.Method.parse(method),
                                    trees,
                                    targetDrop,
                                    data,
                                    perTensor,
                                    out,
                                    force));
            r.print(spec.commandLine().getOut());
            spec.commandLine()
                    .getOut()
                    .printf(
                            "%-17s ./streamscore model evaluate %s %s --data <labelled.csv>%n",
                            "measure it:", model, r.out());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    static ModelRole role(String role) {
        return switch (role.trim().toLowerCase()) {
            case "champion" -> ModelRole.CHAMPION;
            case "challenger" -> ModelRole.CHALLENGER;
            default ->
                    throw new IllegalArgumentException(
                            "--role must be champion or challenger, found '" + role + "'");
        };
    }

    private static String issuer() {
        String user = System.getProperty("user.name", "unknown");
        try {
            return user + "@" + InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return user;
        }
    }

    static String describe(ModelCommand c) {
        return switch (c.getAction()) {
            case DEPLOY ->
                    "deploy "
                            + c.getRole().toString().toLowerCase()
                            + " "
                            + ModelCommands.identity(c)
                            + " from "
                            + c.getLocation();
            case ROLLBACK -> "roll back the champion";
            case RETIRE -> "retire the challenger";
        };
    }

    static String line(ModelStatus s) {
        return String.format(
                "%s subtask %d/%d %-8s %s%s%s%s",
                s.getAt(),
                s.getSubtask(),
                s.getParallelism(),
                s.getState(),
                s.getRole().toString().toLowerCase(),
                s.getModelName() == null ? "" : " " + s.getModelName() + ":" + s.getModelVersion(),
                s.getFirstScoredAt() == null ? "" : ", first batch at " + s.getFirstScoredAt(),
                s.getReason() == null ? "" : " (" + s.getReason() + ")");
    }

    static Instant write(ScoringConfig config, ModelCommand command) throws Exception {
        Properties props = new Properties();
        props.putAll(config.kafka().producer());
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // A wrong address or a missing topic should say so within seconds, not in a stack trace.
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) KAFKA_TIMEOUT.toMillis());
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) KAFKA_TIMEOUT.toMillis());
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) KAFKA_TIMEOUT.toMillis() / 2);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            var sent =
                    producer.send(
                                    new ProducerRecord<>(
                                            config.controlTopic(),
                                            command.getCommandId().getBytes(StandardCharsets.UTF_8),
                                            COMMANDS.encode(command)))
                            .get();
            return Instant.ofEpochMilli(sent.timestamp());
        } catch (ExecutionException | KafkaException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw unreachable(
                    config,
                    "write to control topic",
                    config.controlTopic(),
                    "--control-topic",
                    "write",
                    cause,
                    e);
        }
    }

    /** How long writing a command or finding the status topic may take before giving up. */
    static final Duration KAFKA_TIMEOUT = Duration.ofSeconds(15);

    /** A sentence for a Kafka the command line could not use within {@link #KAFKA_TIMEOUT}. */
    private static IllegalArgumentException unreachable(
            ScoringConfig config,
            String what,
            String topic,
            String topicOption,
            String access,
            Throwable cause,
            Exception e) {
        return new IllegalArgumentException(
                "cannot "
                        + what
                        + " "
                        + topic
                        + " at Kafka "
                        + config.bootstrapServers()
                        + " within "
                        + KAFKA_TIMEOUT.toSeconds()
                        + " s: "
                        + cause.getMessage()
                        + " (are --bootstrap-servers and "
                        + topicOption
                        + " the job's, and can these credentials "
                        + access
                        + " it?)",
                e);
    }

    /**
     * Prints the status records answering {@code command} until every subtask answered (ACTIVE,
     * REFUSED or RETIRED), or {@code wait} passed.
     */
    static int awaitAnswers(
            ScoringConfig config,
            ModelCommand command,
            Instant written,
            Duration wait,
            PrintWriter out) {
        long deadline = System.nanoTime() + wait.toNanos();
        Map<Integer, ModelStatus> answers = new HashMap<>();
        int parallelism = -1;
        try (KafkaConsumer<byte[], byte[]> consumer = statusConsumer(config)) {
            // Answers carry the TaskManagers' clocks: allow them to be well behind this one's.
            seekTo(consumer, config, written.minus(Duration.ofMinutes(10)));
            while (System.nanoTime() < deadline
                    && (parallelism < 0 || answers.size() < parallelism)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    ModelStatus s = decode(r.value());
                    if (s == null || !command.getCommandId().equals(s.getCommandId())) {
                        continue;
                    }
                    out.println("  " + line(s));
                    out.flush();
                    if (s.getState() != ModelState.SERVING) {
                        answers.put(s.getSubtask(), s);
                        parallelism = s.getParallelism();
                    }
                }
            }
        }
        if (parallelism < 0 || answers.size() < parallelism) {
            out.printf(
                    "streamscore: %d of %s subtasks answered within %s; is the job running? (with"
                            + " exactly-once, answers show after each checkpoint)%n",
                    answers.size(), parallelism < 0 ? "?" : parallelism, wait);
            return NO_ANSWER;
        }
        long refused =
                answers.values().stream().filter(s -> s.getState() == ModelState.REFUSED).count();
        out.printf(
                "streamscore: %s on all %d subtasks%n",
                refused == 0
                        ? "applied"
                        : "REFUSED on " + refused + " of them; the models before stay",
                parallelism);
        return refused == 0 ? 0 : REFUSED;
    }

    /** Every status record (since {@code since}, if given) to the end of the topic now. */
    static List<ModelStatus> readStatuses(
            ScoringConfig config, Instant since, Duration timeout, PrintWriter out) {
        List<ModelStatus> all = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = statusConsumer(config)) {
            seekTo(consumer, config, since);
            Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline && !reached(consumer, end)) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    ModelStatus s = decode(r.value());
                    if (s != null) {
                        all.add(s);
                    }
                }
            }
            if (!reached(consumer, end)) {
                out.printf(
                        "streamscore: read %d status records in %s, not the whole topic: what"
                                + " follows may be out of date%n",
                        all.size(), timeout);
            }
        }
        all.sort((a, b) -> a.getAt().compareTo(b.getAt()));
        return all;
    }

    private static boolean reached(
            KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (var e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static KafkaConsumer<byte[], byte[]> statusConsumer(ScoringConfig config) {
        Properties props = new Properties();
        props.putAll(config.kafka().consumer());
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.remove(ConsumerConfig.GROUP_ID_CONFIG);
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static void seekTo(
            KafkaConsumer<byte[], byte[]> consumer, ScoringConfig config, Instant since) {
        List<TopicPartition> partitions = new ArrayList<>();
        try {
            consumer.partitionsFor(config.modelStatusTopic(), KAFKA_TIMEOUT)
                    .forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
        } catch (KafkaException e) {
            throw unreachable(
                    config,
                    "read status topic",
                    config.modelStatusTopic(),
                    "--model-status-topic",
                    "read",
                    e,
                    e);
        }
        if (partitions.isEmpty()) {
            throw new IllegalArgumentException(
                    "status topic " + config.modelStatusTopic() + " does not exist");
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        if (since != null) {
            Map<TopicPartition, Long> times = new HashMap<>();
            partitions.forEach(p -> times.put(p, since.toEpochMilli()));
            Map<TopicPartition, OffsetAndTimestamp> offsets = consumer.offsetsForTimes(times);
            offsets.forEach(
                    (p, o) -> {
                        if (o != null) {
                            consumer.seek(p, o.offset());
                        } else {
                            consumer.seekToEnd(List.of(p));
                        }
                    });
        }
    }

    private static ModelStatus decode(byte[] value) {
        try {
            return value == null ? null : STATUSES.decode(value);
        } catch (Exception e) {
            return null; // not a status record: not ours to report
        }
    }
}

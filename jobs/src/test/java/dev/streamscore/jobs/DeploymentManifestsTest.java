package dev.streamscore.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingMetrics;
import dev.streamscore.operators.features.PipelineFeatureEnricher;
import dev.streamscore.operators.inference.BatchingInferenceOperator;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.operators.serde.SingleObjectSerializationSchema;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.HighAvailabilityOptions;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.configuration.YamlParserUtils;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Meter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.state.rocksdb.RocksDBConfigurableOptions;
import org.apache.flink.state.rocksdb.RocksDBNativeMetricOptions;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.junit.jupiter.api.Test;

/**
 * Keeps the deployment files under {@code deploy/} consistent with the code they deploy: the
 * Kubernetes {@code FlinkDeployment}, the image recipe, the Prometheus scrape config and the
 * Grafana dashboard. Nothing here runs Docker or Kubernetes; each check parses a file and compares
 * it with the job's options, Flink's own option and memory model, or the metrics the operators
 * register. Every check is also run on a broken copy to show it can fail.
 */
class DeploymentManifestsTest {

    private static final Path DEPLOY = Path.of("..", "deploy");
    private static final Path FLINK_DEPLOYMENT = DEPLOY.resolve("k8s/flinkdeployment.yaml");
    private static final Path DOCKERFILE = DEPLOY.resolve("k8s/Dockerfile");
    private static final Path PROMETHEUS = DEPLOY.resolve("monitoring/prometheus.yml");
    private static final Path DASHBOARD = DEPLOY.resolve("monitoring/streamscore-dashboard.json");
    private static final Path ROOT_POM = Path.of("..", "pom.xml");

    /** A broker's default transaction.max.timeout.ms; a longer transaction timeout is rejected. */
    private static final Duration BROKER_MAX_TRANSACTION_TIMEOUT = Duration.ofMinutes(15);

    private static final String PROMETHEUS_REPORTER_FACTORY =
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory";
    private static final String OPERATOR_METRIC_PREFIX = "flink_taskmanager_job_task_operator_";

    /** Where Flink declares the options flinkdeployment.yaml may set. */
    private static final List<Class<?>> FLINK_OPTION_CLASSES =
            List.of(
                    CheckpointingOptions.class,
                    CoreOptions.class,
                    ExecutionOptions.class,
                    HighAvailabilityOptions.class,
                    MetricOptions.class,
                    RestartStrategyOptions.class,
                    StateBackendOptions.class,
                    TaskManagerOptions.class,
                    RocksDBOptions.class,
                    RocksDBConfigurableOptions.class,
                    RocksDBNativeMetricOptions.class);

    /**
     * The quantiles Flink's Prometheus reporter exports for a histogram (HistogramSummaryProxy).
     */
    private static final Set<String> REPORTED_QUANTILES =
            Set.of("0.0", "0.5", "0.75", "0.95", "0.98", "0.99", "0.999", "1.0");

    /** Flink's own metrics the dashboard may show besides those of streamscore's operators. */
    private static final Set<String> FLINK_BUILT_IN_METRICS =
            Set.of(
                    "flink_jobmanager_job_lastCheckpointDuration",
                    "flink_jobmanager_job_numRestarts");

    /** The operator metrics the dashboard must show (README, Inference section). */
    private static final Set<String> DASHBOARD_MUST_SHOW =
            Set.of(
                    BatchingMetrics.ROWS_SCORED_PER_SECOND,
                    BatchingMetrics.BATCH_SIZE,
                    BatchingMetrics.QUEUE_TIME_MICROS,
                    BatchingMetrics.INFERENCE_TIME_MICROS,
                    BatchingMetrics.CACHE_HITS,
                    BatchingMetrics.CACHE_MISSES,
                    BatchingMetrics.COALESCED,
                    BatchingInferenceOperator.DEAD_LETTERS,
                    BatchingMetrics.RETRIES,
                    BatchingInferenceOperator.FALLBACKS,
                    BatchingMetrics.BATCHES_IN_FLIGHT,
                    EventDecoder.DEAD_LETTERS_DECODE,
                    EventDecoder.DEAD_LETTERS_VALIDATE,
                    PipelineFeatureEnricher.DUPLICATES_RESENT);

    // ---------------------------------------------------------------------------------------
    // The checks, each on the real files.
    // ---------------------------------------------------------------------------------------

    @Test
    void everyJobArgumentIsAKnownOptionWithAValidValue() {
        checkJobArguments(args(flinkDeployment()));
    }

    @Test
    void topicsAndGroupAreTheJobsDefaults() {
        checkTopicsAreDefaults(args(flinkDeployment()));
    }

    @Test
    void exactlyOnceTransactionTimeoutOutlastsACheckpointAndFitsTheBroker() {
        Map<String, Object> deployment = flinkDeployment();
        checkTransactionTimeout(scoringConfig(args(deployment)), flinkConfiguration(deployment));
    }

    @Test
    void operatorParallelismEqualsTheJobsParallelismFlag() {
        Map<String, Object> deployment = flinkDeployment();
        checkParallelism(job(deployment), scoringConfig(args(deployment)));
    }

    @Test
    void entryClassIsTheJobsMainClass() throws Exception {
        checkEntryClass(job(flinkDeployment()));
    }

    @Test
    void flinkConfigurationHasRocksDbDurableCheckpointsAndParentFirstOnnxRuntime() {
        Map<String, Object> deployment = flinkDeployment();
        checkFlinkConfiguration(flinkConfiguration(deployment));
        assertThat(job(deployment).get("upgradeMode"))
                .as("job.upgradeMode: state must survive upgrades")
                .isEqualTo("savepoint");
        assertThat(spec(deployment).get("flinkVersion"))
                .as("spec.flinkVersion must be the Flink the job is built against")
                .isEqualTo(operatorFlinkVersion(EnvironmentInformation.getVersion()));
    }

    @Test
    void flinkConfigurationUsesOnlyCurrentFlinkOptionKeys() {
        checkFlinkConfigurationKeys(flinkConfiguration(flinkDeployment()).keySet());
    }

    @Test
    void taskManagerMemoryResolvesWithRoomForRocksDbAndOnnxRuntime() {
        checkTaskManagerMemory(flinkDeployment());
    }

    @Test
    void dockerfileBuildsTheImageTheDeploymentExpects() {
        checkDockerfile(read(DOCKERFILE), flinkDeployment());
    }

    @Test
    void prometheusScrapesThePortTheReporterListensOn() {
        checkMetricsPort(flinkDeployment(), yaml(PROMETHEUS));
    }

    @Test
    void dashboardQueriesOnlyMetricsTheOperatorsRegister() {
        checkDashboard(readJson(read(DASHBOARD)), registeredMetrics());
    }

    // ---------------------------------------------------------------------------------------
    // The same checks on broken copies: each must fail.
    // ---------------------------------------------------------------------------------------

    @Test
    void checksRejectBrokenJobArguments() {
        List<String> good = args(flinkDeployment());
        assertThatThrownBy(() -> checkJobArguments(with(good, "--batchsize", "64")))
                .hasMessageContaining("--batchsize");
        assertThatThrownBy(() -> checkJobArguments(with(good, "--batch-size", "many")))
                .hasMessageContaining("batch-size");
        assertThatThrownBy(() -> checkJobArguments(with(good, "--model")))
                .hasMessageContaining("--model");
    }

    @Test
    void checksRejectATopicThatIsNotTheJobsDefault() {
        List<String> args = args(flinkDeployment());
        assertThatThrownBy(
                        () ->
                                checkTopicsAreDefaults(
                                        with(args, "--scores-topic", "fraud-scores-v2")))
                .isInstanceOf(AssertionError.class);
    }

    @Test
    void checksRejectATransactionTimeoutTheBrokerOrACheckpointWouldBreak() {
        Map<String, Object> deployment = flinkDeployment();
        Configuration flinkConf = flinkConfiguration(deployment);
        List<String> args = args(deployment);
        assertThatThrownBy(
                        () ->
                                checkTransactionTimeout(
                                        scoringConfig(with(args, "--transaction-timeout", "1 h")),
                                        flinkConf))
                .hasMessageContaining("transaction.max.timeout.ms");
        assertThatThrownBy(
                        () ->
                                checkTransactionTimeout(
                                        scoringConfig(with(args, "--transaction-timeout", "90 s")),
                                        flinkConf))
                .hasMessageContaining("checkpoint");
    }

    @Test
    void checksRejectMismatchedParallelismAndAMissingEntryClass() {
        Map<String, Object> deployment = flinkDeployment();
        Map<String, Object> job = new LinkedHashMap<>(job(deployment));
        job.put("parallelism", 8);
        assertThatThrownBy(() -> checkParallelism(job, scoringConfig(args(deployment))))
                .hasMessageContaining("parallelism");
        job.put("entryClass", "dev.streamscore.jobs.ScoringJobRenamed");
        assertThatThrownBy(() -> checkEntryClass(job)).isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void checksRejectAFlinkConfigurationWithoutRocksDbOrParentFirstOnnxRuntime() {
        Configuration good = flinkConfiguration(flinkDeployment());
        Configuration heap = new Configuration(good);
        heap.set(StateBackendOptions.STATE_BACKEND, "hashmap");
        assertThatThrownBy(() -> checkFlinkConfiguration(heap)).hasMessageContaining("RocksDB");
        Configuration childFirst = new Configuration(good);
        childFirst.set(CoreOptions.ALWAYS_PARENT_FIRST_LOADER_PATTERNS_ADDITIONAL, List.of());
        assertThatThrownBy(() -> checkFlinkConfiguration(childFirst))
                .hasMessageContaining("ai.onnxruntime");
        Configuration localCheckpoints = new Configuration(good);
        localCheckpoints.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, "file:///tmp/cp");
        assertThatThrownBy(() -> checkFlinkConfiguration(localCheckpoints))
                .hasMessageContaining("durable");
    }

    @Test
    void checksRejectMisspelledAndFlink1OptionKeys() {
        Set<String> keys = flinkConfiguration(flinkDeployment()).keySet();
        assertThatThrownBy(() -> checkFlinkConfigurationKeys(with(keys, "state.backend.typ")))
                .hasMessageContaining("state.backend.typ");
        // Flink 1.x's name of execution.checkpointing.dir: still read, no longer documented.
        assertThatThrownBy(() -> checkFlinkConfigurationKeys(with(keys, "state.checkpoints.dir")))
                .hasMessageContaining("state.checkpoints.dir");
    }

    @Test
    void checksRejectAnOvercommittedTaskManager() {
        Map<String, Object> deployment = deepCopy(flinkDeployment());
        @SuppressWarnings("unchecked")
        Map<String, Object> resource =
                (Map<String, Object>)
                        ((Map<String, Object>) spec(deployment).get("taskManager")).get("resource");
        resource.put("memory", "1024m");
        assertThatThrownBy(() -> checkTaskManagerMemory(deployment)).isNotNull();
    }

    @Test
    void checksRejectADockerfileThatMissesTheJarPathOrOnnxRuntime() {
        Map<String, Object> deployment = flinkDeployment();
        String good = read(DOCKERFILE);
        assertThatThrownBy(
                        () ->
                                checkDockerfile(
                                        good.replace(
                                                "/opt/flink/usrlib/streamscore-job.jar",
                                                "/opt/flink/usrlib/job.jar"),
                                        deployment))
                .hasMessageContaining("jarURI");
        assertThatThrownBy(
                        () ->
                                checkDockerfile(
                                        good.replace(
                                                "ONNXRUNTIME_VERSION=1.28.0",
                                                "ONNXRUNTIME_VERSION=1.29.0"),
                                        deployment))
                .hasMessageContaining("onnxruntime");
        assertThatThrownBy(
                        () ->
                                checkDockerfile(
                                        good.replace("flink:2.2.1-", "flink:2.1.0-"), deployment))
                .hasMessageContaining("FROM");
    }

    @Test
    void checksRejectADashboardQueryingAnUnknownOrDroppedMetric() {
        Map<String, MetricKind> registered = registeredMetrics();
        String good = read(DASHBOARD);
        assertThatThrownBy(
                        () ->
                                checkDashboard(
                                        readJson(good.replace("_cacheHits{", "_cacheHit{")),
                                        registered))
                .hasMessageContaining("cacheHit");
        assertThatThrownBy(
                        () ->
                                checkDashboard(
                                        readJson(
                                                good.replace(
                                                        "_chosenBatchSize{", "_modelVersion{")),
                                        registered))
                .hasMessageContaining("modelVersion");
        assertThatThrownBy(
                        () ->
                                checkDashboard(
                                        readJson(
                                                good.replace(
                                                        "quantile=\\\"0.99\\\"",
                                                        "quantile=\\\"0.9\\\"")),
                                        registered))
                .hasMessageContaining("0.9");
        assertThatThrownBy(
                        () ->
                                checkDashboard(
                                        readJson(good.replace("_duplicatesResent{", "_coalesced{")),
                                        registered))
                .hasMessageContaining("duplicatesResent");
    }

    @Test
    void checksRejectAScrapePortTheReporterDoesNotUse() {
        Map<String, Object> deployment = deepCopy(flinkDeployment());
        @SuppressWarnings("unchecked")
        Map<String, Object> conf = (Map<String, Object>) spec(deployment).get("flinkConfiguration");
        conf.put("metrics.reporter.prom.port", "9250");
        assertThatThrownBy(() -> checkMetricsPort(deployment, yaml(PROMETHEUS)))
                .hasMessageContaining("9250");
    }

    // ---------------------------------------------------------------------------------------
    // Checks
    // ---------------------------------------------------------------------------------------

    private static void checkJobArguments(List<String> args) {
        Set<String> known =
                ScoringOptions.all().stream()
                        .map(o -> "--" + o.key())
                        .collect(Collectors.toCollection(LinkedHashSet::new));
        assertThat(args.size() % 2).as("job.args must be --flag value pairs: %s", args).isZero();
        for (int i = 0; i < args.size(); i += 2) {
            assertThat(args.get(i))
                    .as("job.args[%d] must be a ScoringOptions flag, one of %s", i, known)
                    .isIn(known);
            assertThat(args.get(i + 1))
                    .as("value of %s in job.args", args.get(i))
                    .doesNotStartWith("--");
        }
        // Parses every value with the option's type and runs ScoringConfig's boundary checks.
        assertThat(scoringConfig(args)).isNotNull();
    }

    /**
     * The manifest names its topics and group so that users see where to change them; they are the
     * job's defaults (ScoringOptions), the names the local cluster and the docs use.
     */
    private static void checkTopicsAreDefaults(List<String> args) {
        ScoringConfig config = scoringConfig(args);
        ScoringConfig defaults = ScoringConfig.defaults();
        assertThat(config.inputTopic()).isEqualTo(defaults.inputTopic());
        assertThat(config.scoresTopic()).isEqualTo(defaults.scoresTopic());
        assertThat(config.deadLetterTopic()).isEqualTo(defaults.deadLetterTopic());
        assertThat(config.groupId()).isEqualTo(defaults.groupId());
    }

    private static void checkTransactionTimeout(ScoringConfig config, Configuration flinkConf) {
        if (config.delivery() != DeliveryGuarantee.EXACTLY_ONCE) {
            return;
        }
        // The job sets its own checkpoint timeout (--checkpoint-timeout) over the cluster's.
        Duration checkpointTimeout = config.checkpointTimeout();
        assertThat(config.transactionTimeout())
                .as(
                        "--transaction-timeout must be at most the broker's default"
                                + " transaction.max.timeout.ms (%s)",
                        BROKER_MAX_TRANSACTION_TIMEOUT)
                .isLessThanOrEqualTo(BROKER_MAX_TRANSACTION_TIMEOUT);
        // A transaction opened at one checkpoint commits when the next completes: it must outlive
        // the interval plus the longest a checkpoint may take before it is declared failed.
        assertThat(config.transactionTimeout())
                .as(
                        "--transaction-timeout must exceed --checkpoint-interval (%s) plus the"
                                + " checkpoint timeout (%s)",
                        config.checkpointInterval(), checkpointTimeout)
                .isGreaterThan(config.checkpointInterval().plus(checkpointTimeout));
    }

    private static void checkParallelism(Map<String, Object> job, ScoringConfig config) {
        assertThat(job.get("parallelism"))
                .as(
                        "job.parallelism sizes the cluster, --parallelism the job: they must be"
                                + " equal")
                .isEqualTo(config.parallelism());
    }

    private static void checkEntryClass(Map<String, Object> job) throws Exception {
        Class<?> entry = Class.forName((String) job.get("entryClass"));
        Method main = entry.getMethod("main", String[].class);
        assertThat(Modifier.isStatic(main.getModifiers())).as("%s.main is static", entry).isTrue();
    }

    private static void checkFlinkConfiguration(Configuration conf) {
        assertThat(conf.get(StateBackendOptions.STATE_BACKEND))
                .as("state.backend.type: keyed state must be in RocksDB")
                .isEqualToIgnoringCase("rocksdb");
        assertThat(conf.get(CheckpointingOptions.INCREMENTAL_CHECKPOINTS))
                .as("incremental checkpoints (RocksDB)")
                .isTrue();
        assertThat(conf.get(RocksDBConfigurableOptions.USE_BLOOM_FILTER))
                .as("RocksDB bloom filters (the dedup check looks up ids it mostly does not hold)")
                .isTrue();
        for (ConfigOption<String> dir :
                List.of(
                        CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                        CheckpointingOptions.SAVEPOINT_DIRECTORY,
                        HighAvailabilityOptions.HA_STORAGE_PATH)) {
            assertThat(conf.get(dir))
                    .as("%s must point at durable shared storage, not a pod's disk", dir.key())
                    .isNotBlank()
                    .doesNotStartWith("file:")
                    .doesNotStartWith("/");
        }
        assertThat(conf.get(RestartStrategyOptions.RESTART_STRATEGY))
                .as("restart-strategy.type")
                .isNotBlank();
        assertThat(conf.get(CoreOptions.ALWAYS_PARENT_FIRST_LOADER_PATTERNS_ADDITIONAL))
                .as("ONNX Runtime's JNI library must be loaded parent-first: ai.onnxruntime")
                .contains("ai.onnxruntime");
        assertThat(conf.getString("metrics.reporter.prom.factory.class", null))
                .as("Prometheus reporter")
                .isEqualTo(PROMETHEUS_REPORTER_FACTORY);
    }

    /**
     * Every key is a current option of the Flink the job is built against (a misspelled or a Flink
     * 1.x key is silently ignored by Flink), or belongs to the operator or to a metrics reporter.
     */
    private static void checkFlinkConfigurationKeys(Set<String> keys) {
        Set<String> current = new LinkedHashSet<>();
        for (Class<?> options : FLINK_OPTION_CLASSES) {
            for (Field field : options.getFields()) {
                if (Modifier.isStatic(field.getModifiers())
                        && field.getType() == ConfigOption.class
                        && !field.isAnnotationPresent(Deprecated.class)) {
                    try {
                        current.add(((ConfigOption<?>) field.get(null)).key());
                    } catch (IllegalAccessException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        }
        for (String key : keys) {
            if (key.startsWith("kubernetes.operator.") || key.startsWith("metrics.reporter.")) {
                continue;
            }
            assertThat(current)
                    .as("flinkConfiguration key '%s' is not a current Flink option", key)
                    .contains(key);
        }
    }

    private static void checkTaskManagerMemory(Map<String, Object> deployment) {
        Configuration conf = flinkConfiguration(deployment);
        @SuppressWarnings("unchecked")
        Map<String, Object> resource =
                (Map<String, Object>)
                        ((Map<String, Object>) spec(deployment).get("taskManager")).get("resource");
        // The operator sets the process size from the pod's memory.
        conf.set(
                TaskManagerOptions.TOTAL_PROCESS_MEMORY,
                MemorySize.parse(String.valueOf(resource.get("memory"))));
        // Throws IllegalConfigurationException when the parts do not fit the process.
        TaskExecutorProcessSpec spec = TaskExecutorProcessUtils.processSpecFromConfig(conf);
        int slots = conf.get(TaskManagerOptions.NUM_TASK_SLOTS);
        assertThat(spec.getManagedMemorySize().getBytes() / slots)
                .as("managed memory per slot, for RocksDB")
                .isGreaterThanOrEqualTo(MemorySize.ofMebiBytes(256).getBytes());
        assertThat(conf.contains(TaskManagerOptions.TASK_OFF_HEAP_MEMORY))
                .as("taskmanager.memory.task.off-heap.size must reserve room for ONNX Runtime")
                .isTrue();
        assertThat(spec.getTaskOffHeapSize().add(spec.getJvmOverheadSize()).getBytes())
                .as("task off-heap + JVM overhead: ONNX Runtime's native memory lives there")
                .isGreaterThanOrEqualTo(MemorySize.ofMebiBytes(512).getBytes());
    }

    private static void checkDockerfile(String dockerfile, Map<String, Object> deployment) {
        String jarUri = (String) job(deployment).get("jarURI");
        assertThat(jarUri).startsWith("local://");
        String jarPath = jarUri.substring("local://".length());

        Matcher from = Pattern.compile("(?m)^FROM\\s+(\\S+)").matcher(dockerfile);
        assertThat(from.find()).as("Dockerfile has a FROM line").isTrue();
        String flinkVersion = EnvironmentInformation.getVersion();
        assertThat(from.group(1))
                .as("FROM must be the official Flink %s image on Java 17", flinkVersion)
                .startsWith("flink:" + flinkVersion + "-")
                .contains("java17");

        Matcher copy =
                Pattern.compile("(?m)^COPY\\s+(?:--\\S+\\s+)*(\\S+)\\s+(\\S+)\\s*$")
                        .matcher(dockerfile);
        String projectVersion = pomValue("<version>", "</version>");
        String shadedJar = "jobs/target/streamscore-jobs-" + projectVersion + "-job.jar";
        boolean copiesJar = false;
        while (copy.find()) {
            boolean matchesJar =
                    FileSystems.getDefault()
                            .getPathMatcher("glob:" + copy.group(1))
                            .matches(Path.of(shadedJar));
            if (matchesJar) {
                assertThat(copy.group(2))
                        .as("the job jar must land where job.jarURI (%s) points", jarUri)
                        .isEqualTo(jarPath);
                copiesJar = true;
            }
        }
        assertThat(copiesJar).as("Dockerfile copies the shaded job jar %s", shadedJar).isTrue();

        String onnxVersion = pomValue("<onnxruntime.version>", "</onnxruntime.version>");
        assertThat(dockerfile)
                .as("onnxruntime %s (the build's version) in /opt/flink/lib", onnxVersion)
                .contains("ONNXRUNTIME_VERSION=" + onnxVersion)
                .contains("/opt/flink/lib/onnxruntime-${ONNXRUNTIME_VERSION}.jar");
        assertThat(dockerfile)
                .as("the Prometheus reporter plugin is put in place")
                .contains("/opt/flink/plugins/metrics-prometheus");
    }

    @SuppressWarnings("unchecked")
    private static void checkMetricsPort(Map<String, Object> deployment, Map<String, Object> prom) {
        String port = flinkConfiguration(deployment).getString("metrics.reporter.prom.port", null);
        Map<String, Object> podSpec =
                (Map<String, Object>)
                        ((Map<String, Object>) spec(deployment).get("podTemplate")).get("spec");
        List<Map<String, Object>> containers =
                (List<Map<String, Object>>) podSpec.get("containers");
        List<String> metricsPorts = new ArrayList<>();
        for (Map<String, Object> container : containers) {
            for (Map<String, Object> p :
                    (List<Map<String, Object>>) container.getOrDefault("ports", List.of())) {
                if ("metrics".equals(p.get("name"))) {
                    metricsPorts.add(String.valueOf(p.get("containerPort")));
                }
            }
        }
        assertThat(metricsPorts)
                .as(
                        "the pod's container port named 'metrics' (what prometheus.yml scrapes)"
                                + " must be metrics.reporter.prom.port %s",
                        port)
                .containsExactly(port);
        String scrape = String.valueOf(prom.get("scrape_configs"));
        assertThat(scrape)
                .as("prometheus.yml keeps the pods' port named 'metrics'")
                .contains("__meta_kubernetes_pod_container_port_name")
                .contains("regex=metrics");
    }

    private static void checkDashboard(JsonNode dashboard, Map<String, MetricKind> registered) {
        List<String> exprs = new ArrayList<>();
        dashboard.findValues("expr").forEach(e -> exprs.add(e.asText()));
        dashboard.findValues("definition").forEach(e -> exprs.add(e.asText()));
        assertThat(exprs).as("dashboard queries").isNotEmpty();

        Pattern metric = Pattern.compile("\\bflink_[A-Za-z0-9_:]+");
        Pattern quantile = Pattern.compile("quantile\\s*=~?\\s*\"([^\"]*)\"");
        Set<String> shown = new LinkedHashSet<>();
        for (String expr : exprs) {
            Matcher m = metric.matcher(expr);
            while (m.find()) {
                String name = m.group();
                if (!name.startsWith(OPERATOR_METRIC_PREFIX)) {
                    assertThat(FLINK_BUILT_IN_METRICS)
                            .as(
                                    "'%s' is neither a streamscore operator metric nor a known"
                                            + " Flink one, in: %s",
                                    name, expr)
                            .contains(name);
                    continue;
                }
                String operatorMetric = name.substring(OPERATOR_METRIC_PREFIX.length());
                if (!registered.containsKey(operatorMetric) && operatorMetric.endsWith("_count")) {
                    String histogram = operatorMetric.substring(0, operatorMetric.length() - 6);
                    assertThat(registered.get(histogram))
                            .as("'%s': _count exists only for histograms", name)
                            .isEqualTo(MetricKind.HISTOGRAM);
                    operatorMetric = histogram;
                }
                assertThat(registered)
                        .as("the dashboard queries '%s', which no operator registers", name)
                        .containsKey(operatorMetric);
                assertThat(registered.get(operatorMetric))
                        .as(
                                "'%s' is a String gauge, which Flink's Prometheus reporter drops",
                                operatorMetric)
                        .isNotEqualTo(MetricKind.STRING_GAUGE);
                shown.add(operatorMetric);
            }
            Matcher q = quantile.matcher(expr);
            while (q.find()) {
                assertThat(REPORTED_QUANTILES)
                        .as(
                                "quantile \"%s\" is not one the reporter exports, in: %s",
                                q.group(1), expr)
                        .contains(q.group(1));
            }
        }
        assertThat(shown).as("operator metrics on the dashboard").containsAll(DASHBOARD_MUST_SHOW);
    }

    // ---------------------------------------------------------------------------------------
    // The metrics the operators register
    // ---------------------------------------------------------------------------------------

    enum MetricKind {
        COUNTER,
        NUMBER_GAUGE,
        STRING_GAUGE,
        METER,
        HISTOGRAM
    }

    /**
     * Every metric the job's operators register: the batching operator's (registered on a recording
     * group) and, by their public name constants, those of the fraud scoring, the decoder and the
     * enrichment.
     */
    private static Map<String, MetricKind> registeredMetrics() {
        Map<String, MetricKind> metrics = new TreeMap<>(recordBatchingMetrics());
        for (String counter :
                List.of(
                        BatchingInferenceOperator.DEAD_LETTERS,
                        BatchingInferenceOperator.FALLBACKS,
                        EventDecoder.DEAD_LETTERS_DECODE,
                        EventDecoder.DEAD_LETTERS_VALIDATE,
                        EventDecoder.DECODE_TIME_NANOS,
                        PipelineFeatureEnricher.DUPLICATES_RESENT,
                        PipelineFeatureEnricher.ENRICH_TIME_NANOS,
                        SingleObjectSerializationSchema.ENCODE_TIME_NANOS)) {
            metrics.put(counter, MetricKind.COUNTER);
        }
        return metrics;
    }

    private static Map<String, MetricKind> recordBatchingMetrics() {
        Map<String, MetricKind> recorded = new TreeMap<>();
        MetricGroup group =
                new UnregisteredMetricsGroup() {
                    @Override
                    public <C extends Counter> C counter(String name, C counter) {
                        recorded.put(name, MetricKind.COUNTER);
                        return counter;
                    }

                    @Override
                    public Counter counter(String name) {
                        recorded.put(name, MetricKind.COUNTER);
                        return super.counter(name);
                    }

                    @Override
                    public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
                        recorded.put(
                                name,
                                gauge.getValue() instanceof String
                                        ? MetricKind.STRING_GAUGE
                                        : MetricKind.NUMBER_GAUGE);
                        return gauge;
                    }

                    @Override
                    public <M extends Meter> M meter(String name, M meter) {
                        recorded.put(name, MetricKind.METER);
                        return meter;
                    }

                    @Override
                    public <H extends Histogram> H histogram(String name, H histogram) {
                        recorded.put(name, MetricKind.HISTOGRAM);
                        return histogram;
                    }
                };
        new BatchingMetrics(group, () -> 0, () -> 256, () -> 10_000L, () -> "gbdt:1", () -> "cpu");
        assertThat(recorded.keySet()).containsExactlyInAnyOrderElementsOf(BatchingMetrics.NAMES);
        return recorded;
    }

    // ---------------------------------------------------------------------------------------
    // Reading the files
    // ---------------------------------------------------------------------------------------

    private static Map<String, Object> flinkDeployment() {
        Map<String, Object> root = yaml(FLINK_DEPLOYMENT);
        assertThat(root.get("apiVersion")).isEqualTo("flink.apache.org/v1beta1");
        assertThat(root.get("kind")).isEqualTo("FlinkDeployment");
        return root;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> spec(Map<String, Object> deployment) {
        return (Map<String, Object>) deployment.get("spec");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> job(Map<String, Object> deployment) {
        return (Map<String, Object>) spec(deployment).get("job");
    }

    private static List<String> args(Map<String, Object> deployment) {
        return ((List<?>) job(deployment).get("args"))
                .stream().map(String::valueOf).collect(Collectors.toList());
    }

    /** spec.flinkConfiguration as Flink reads it (values as strings, like the operator passes). */
    @SuppressWarnings("unchecked")
    private static Configuration flinkConfiguration(Map<String, Object> deployment) {
        Map<String, String> flat = new LinkedHashMap<>();
        ((Map<String, Object>) spec(deployment).get("flinkConfiguration"))
                .forEach((k, v) -> flat.put(k, String.valueOf(v)));
        return Configuration.fromMap(flat);
    }

    private static ScoringConfig scoringConfig(List<String> args) {
        return ScoringConfig.from(JobArguments.parse(args.toArray(new String[0])));
    }

    /** "2.2.1" → "v2_2", the operator's FlinkVersion enum name. */
    private static String operatorFlinkVersion(String flinkVersion) {
        String[] parts = flinkVersion.split("\\.");
        return "v" + parts[0] + "_" + parts[1];
    }

    /**
     * {@code args} with {@code flag} set to {@code value} (added when absent), or just appended.
     */
    private static List<String> with(List<String> args, String flag, String... value) {
        List<String> changed = new ArrayList<>(args);
        int at = changed.indexOf(flag);
        if (at >= 0 && value.length == 1) {
            changed.set(at + 1, value[0]);
        } else {
            changed.add(flag);
            changed.addAll(List.of(value));
        }
        return changed;
    }

    private static Set<String> with(Set<String> keys, String key) {
        Set<String> changed = new LinkedHashSet<>(keys);
        changed.add(key);
        return changed;
    }

    private static Map<String, Object> yaml(Path file) {
        try {
            return YamlParserUtils.loadYamlFile(file.toFile());
        } catch (Exception e) {
            throw new AssertionError("cannot parse " + file + ": " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<String, Object> map) {
        Map<String, Object> copy = new LinkedHashMap<>();
        map.forEach(
                (k, v) ->
                        copy.put(
                                k,
                                v instanceof Map<?, ?> m ? deepCopy((Map<String, Object>) m) : v));
        return copy;
    }

    private static JsonNode readJson(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The first value between {@code open} and {@code close} after the root pom's parent id. */
    private static String pomValue(String open, String close) {
        String pom = read(ROOT_POM);
        int from = pom.indexOf("<artifactId>streamscore-parent</artifactId>");
        int start = pom.indexOf(open, from) + open.length();
        return pom.substring(start, pom.indexOf(close, start)).trim();
    }
}

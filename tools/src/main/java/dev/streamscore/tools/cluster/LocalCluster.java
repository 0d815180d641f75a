package dev.streamscore.tools.cluster;

import dev.streamscore.jobs.config.ScoringConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A Flink standalone session cluster (one JobManager, TaskManagers) and a Kafka broker in KRaft
 * mode on this machine, each its own JVM started from the jars the jobs build resolved (flink-dist
 * is not on Maven Central), all on loopback, with config, logs, pids and data under one work
 * folder. What {@code ./streamscore cluster up|down} runs; tests use it to kill and add
 * TaskManagers.
 *
 * <pre>
 * LocalCluster cluster = new LocalCluster(ClusterLayout.of(ClusterLayout.findRepositoryRoot(), null));
 * cluster.up(2, Duration.ofMinutes(2));
 * cluster.rest().runJar(cluster.rest().uploadJar(layout.jobJar()), args, null);
 * cluster.down(Duration.ofSeconds(20));
 * </pre>
 */
public final class LocalCluster {

    /** Partitions of each data topic {@code up} creates (the control topic has one). */
    public static final int TOPIC_PARTITIONS = 2;

    /** The topics {@code up} creates, with the job's default names, and their partitions. */
    public static final Map<String, Integer> TOPICS =
            ScoringConfig.defaults().topicPartitions(TOPIC_PARTITIONS);

    static final String KAFKA = "kafka";
    static final String JOBMANAGER = "jobmanager";
    static final String TASKMANAGER = "taskmanager-";

    private static final String JOBMANAGER_MAIN =
            "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint";
    private static final String TASKMANAGER_MAIN =
            "org.apache.flink.runtime.taskexecutor.TaskManagerRunner";
    private static final String BASH_JAVA_UTILS =
            "org.apache.flink.runtime.util.bash.BashJavaUtils";

    /**
     * Jars of the launcher's runtime classpath that belong to the job, not the cluster: the job jar
     * brings its own copies, and a parent-first copy of the connector would pull in the cluster's
     * Kafka client instead of the job's.
     */
    private static final List<String> JOB_ONLY_JARS =
            List.of(
                    "streamscore-",
                    "flink-connector-kafka-",
                    "kafka-clients-",
                    "flink-avro-",
                    "avro-",
                    "picocli-",
                    "HdrHistogram-");

    /** Jars of the launcher's provided classpath that only the broker or tests need. */
    private static final List<String> NOT_FOR_FLINK =
            List.of("kafka", "scala-", "junit-", "opentest4j-", "apiguardian-", "argparse4j-");

    private final ClusterLayout layout;

    public LocalCluster(ClusterLayout layout) {
        this.layout = layout;
    }

    public ClusterLayout layout() {
        return layout;
    }

    /** Ports of the cluster that {@code up} started, read from its work folder. */
    public Properties state() {
        Path file = layout.stateFile();
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(
                    "expected a cluster started with `./streamscore cluster up` in "
                            + layout.workDir()
                            + ", found no "
                            + file.getFileName()
                            + " there");
        }
        Properties state = new Properties();
        try (var in = Files.newBufferedReader(file)) {
            state.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return state;
    }

    public URI webUi() {
        return URI.create("http://127.0.0.1:" + state().getProperty("rest.port"));
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + state().getProperty("kafka.port");
    }

    public FlinkRestClient rest() {
        return new FlinkRestClient(webUi());
    }

    /**
     * Starts the broker, the JobManager and {@code taskManagers} TaskManagers, waits until the
     * topics exist and every TaskManager is registered; stops everything again if that fails.
     */
    public void up(int taskManagers, Duration timeout) throws Exception {
        List<String> running = runningProcesses();
        if (!running.isEmpty()) {
            throw new IllegalArgumentException(
                    "a cluster is already running in "
                            + layout.workDir()
                            + " ("
                            + String.join(", ", running)
                            + "): run `./streamscore cluster down` first");
        }
        try {
            writeConfig();
            startKafka();
            startJobManager();
            for (int i = 1; i <= taskManagers; i++) {
                startTaskManager(i);
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            createTopics(deadline);
            awaitTaskManagers(taskManagers, deadline);
        } catch (Exception | Error e) {
            down(Duration.ofSeconds(10));
            throw e;
        }
    }

    /** Starts one more TaskManager, numbered after the highest started so far. */
    public String startTaskManager() throws IOException, InterruptedException {
        int next = 1;
        try (var pids = Files.list(layout.pidsDir())) {
            next +=
                    pids.map(p -> p.getFileName().toString())
                            .filter(n -> n.startsWith(TASKMANAGER))
                            .mapToInt(n -> Integer.parseInt(n.replaceAll("\\D", "")))
                            .max()
                            .orElse(0);
        }
        // A number already used keeps its old log too: count from the logs as well.
        while (Files.exists(layout.log(TASKMANAGER + next))) {
            next++;
        }
        return startTaskManager(next);
    }

    /**
     * Checks that the JobManager of this work folder is alive, with a message that says what to do
     * when it is not.
     */
    public void requireRunning() throws IOException {
        if (process(JOBMANAGER).isEmpty()) {
            throw new IllegalArgumentException(
                    "expected a running cluster in "
                            + layout.workDir()
                            + ", found "
                            + (runningProcesses().isEmpty()
                                    ? "none"
                                    : "no JobManager (running: "
                                            + String.join(", ", runningProcesses())
                                            + "; see "
                                            + layout.log(JOBMANAGER)
                                            + ")")
                            + ": start one with ./streamscore cluster up");
        }
    }

    /** Kills a process of the cluster with SIGKILL, as a crash would. */
    public void kill(String process) throws InterruptedException {
        ProcessHandle handle =
                process(process)
                        .orElseThrow(
                                () ->
                                        new IllegalArgumentException(
                                                "expected a running process "
                                                        + process
                                                        + ", found none in "
                                                        + layout.pidsDir()));
        handle.destroyForcibly();
        waitForExit(List.of(handle), Duration.ofSeconds(10));
    }

    /** The names of the cluster's processes that are alive. */
    public List<String> runningProcesses() throws IOException {
        if (!Files.isDirectory(layout.pidsDir())) {
            return List.of();
        }
        try (var pids = Files.list(layout.pidsDir())) {
            return pids.map(p -> p.getFileName().toString().replace(".pid", ""))
                    .filter(name -> process(name).isPresent())
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    /**
     * Stops every process of the cluster: SIGTERM to the Flink processes, then to the broker,
     * SIGKILL to whatever is still alive after {@code grace}. Removes the pid files, nothing else.
     */
    public List<String> down(Duration grace) throws IOException, InterruptedException {
        List<String> stopped = new ArrayList<>();
        if (!Files.isDirectory(layout.pidsDir())) {
            return stopped;
        }
        List<String> names;
        try (var pids = Files.list(layout.pidsDir())) {
            names =
                    pids.map(p -> p.getFileName().toString().replace(".pid", ""))
                            .sorted()
                            .collect(Collectors.toList());
        }
        // Flink first, so the job does not spend its last seconds failing against a gone broker.
        List<String> flink = names.stream().filter(n -> !n.equals(KAFKA)).toList();
        List<String> kafka = names.stream().filter(n -> n.equals(KAFKA)).toList();
        for (List<String> group : List.of(flink, kafka)) {
            List<ProcessHandle> handles = new ArrayList<>();
            for (String name : group) {
                process(name)
                        .ifPresent(
                                h -> {
                                    h.destroy();
                                    handles.add(h);
                                    stopped.add(name);
                                });
            }
            for (ProcessHandle h : waitForExit(handles, grace)) {
                h.destroyForcibly();
            }
            waitForExit(handles, Duration.ofSeconds(10));
            for (String name : group) {
                Files.deleteIfExists(layout.pidFile(name));
            }
        }
        return stopped;
    }

    /** The pids of the processes recorded in the work folder, alive or not. */
    public Map<String, Long> recordedPids() throws IOException {
        Map<String, Long> pids = new LinkedHashMap<>();
        if (Files.isDirectory(layout.pidsDir())) {
            try (var files = Files.list(layout.pidsDir())) {
                for (Path p : files.sorted().toList()) {
                    pids.put(
                            p.getFileName().toString().replace(".pid", ""),
                            Long.parseLong(Files.readString(p).trim()));
                }
            }
        }
        return pids;
    }

    /**
     * The live process recorded under {@code name}, if its command line still names this work
     * folder (so a reused pid is never taken for ours).
     */
    public Optional<ProcessHandle> process(String name) {
        Path pidFile = layout.pidFile(name);
        try {
            if (!Files.isRegularFile(pidFile)) {
                return Optional.empty();
            }
            long pid = Long.parseLong(Files.readString(pidFile).trim());
            return ProcessHandle.of(pid)
                    .filter(ProcessHandle::isAlive)
                    .filter(
                            h ->
                                    h.info()
                                            .arguments()
                                            .map(
                                                    args ->
                                                            Arrays.stream(args)
                                                                    .anyMatch(
                                                                            a ->
                                                                                    a.contains(
                                                                                            layout.workDir()
                                                                                                    .toString())))
                                            .orElse(true));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private void writeConfig() throws IOException {
        Files.createDirectories(layout.confDir());
        Files.createDirectories(layout.logsDir());
        Files.createDirectories(layout.pidsDir());
        Files.createDirectories(layout.workDir().resolve("tmp"));
        Files.createDirectories(layout.workDir().resolve("uploads"));
        Files.createDirectories(layout.kafkaConfig().getParent());

        // A restart in the same work folder keeps its ports where they are still free, so the web
        // UI and bootstrap addresses stay the same and the broker's data matches its config.
        Properties previous = new Properties();
        if (Files.isRegularFile(layout.stateFile())) {
            try (var in = Files.newBufferedReader(layout.stateFile())) {
                previous.load(in);
            }
        }
        Map<String, String> values = new LinkedHashMap<>();
        values.put("work.dir", layout.workDir().toString());
        for (String port :
                List.of(
                        "rest.port",
                        "jobmanager.rpc.port",
                        "kafka.port",
                        "kafka.controller.port")) {
            values.put(port, Integer.toString(freePort(previous.getProperty(port))));
        }

        String local =
                ClusterLayout.fill(read(layout.deployFile("local/flink-local.yaml")), values);
        Set<String> replaced =
                local.lines()
                        .filter(l -> l.matches("^[A-Za-z][^:#]*:.*"))
                        .map(l -> l.substring(0, l.indexOf(':')).trim())
                        .collect(Collectors.toSet());
        StringBuilder config = new StringBuilder();
        config.append("# Written by ./streamscore cluster up from deploy/flink/config.yaml and")
                .append(" deploy/local/flink-local.yaml.\n");
        for (String line : read(layout.deployFile("flink/config.yaml")).split("\n", -1)) {
            boolean isReplaced =
                    line.matches("^[A-Za-z][^:#]*:.*")
                            && replaced.contains(line.substring(0, line.indexOf(':')).trim());
            config.append(isReplaced ? "# (set below) " + line : line).append('\n');
        }
        config.append("\n# --- deploy/local/flink-local.yaml ---\n").append(local);
        Files.writeString(layout.confDir().resolve("config.yaml"), config.toString());
        Files.copy(
                layout.deployFile("local/log4j2-cluster.properties"),
                layout.confDir().resolve("log4j2.properties"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(
                layout.kafkaConfig(),
                ClusterLayout.fill(
                        read(layout.deployFile("local/kafka-server.properties")), values));

        Properties state = new Properties();
        values.forEach(state::setProperty);
        try (var out = Files.newBufferedWriter(layout.stateFile())) {
            state.store(out, "ports of the cluster started by ./streamscore cluster up");
        }
    }

    private void startKafka() throws IOException, InterruptedException {
        Path data = layout.workDir().resolve("kafka/data");
        List<String> classpath = kafkaClasspath();
        if (!Files.exists(data.resolve("meta.properties"))) {
            Process format =
                    jvm(
                                    "kafka-format",
                                    classpath,
                                    List.of("-Xmx256m"),
                                    "kafka.tools.StorageTool",
                                    List.of(
                                            "format",
                                            // One argument: a random id may start with '-'.
                                            "--cluster-id=" + kafkaClusterId(),
                                            "-c",
                                            layout.kafkaConfig().toString()))
                            .start();
            if (!format.waitFor(2, TimeUnit.MINUTES) || format.exitValue() != 0) {
                format.destroyForcibly();
                throw new IllegalStateException(
                        "expected the Kafka storage format to succeed, it did not: see "
                                + layout.log("kafka-format")
                                + " and "
                                + layout.logsDir().resolve("kafka-format.out"));
            }
        }
        start(
                KAFKA,
                jvm(
                        KAFKA,
                        classpath,
                        List.of("-Xms256m", "-Xmx512m"),
                        "kafka.Kafka",
                        List.of(layout.kafkaConfig().toString())));
    }

    private static String kafkaClusterId() {
        // Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
        UUID uuid = UUID.randomUUID();
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(16);
        bytes.putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes.array());
    }

    private void startJobManager() throws IOException, InterruptedException {
        Resources resources = resources("GET_JM_RESOURCE_PARAMS");
        List<String> args = new ArrayList<>(List.of("--configDir", layout.confDir().toString()));
        args.addAll(resources.dynamicProperties());
        start(
                JOBMANAGER,
                jvm(JOBMANAGER, flinkClasspath(), resources.jvmFlags(), JOBMANAGER_MAIN, args));
    }

    private String startTaskManager(int number) throws IOException, InterruptedException {
        String name = TASKMANAGER + number;
        Resources resources = resources("GET_TM_RESOURCE_PARAMS");
        List<String> args = new ArrayList<>(List.of("--configDir", layout.confDir().toString()));
        args.addAll(resources.dynamicProperties());
        // The TaskManager's id in the web UI and REST API is its process name here.
        args.addAll(List.of("-D", "taskmanager.resource-id=" + name));
        start(name, jvm(name, flinkClasspath(), resources.jvmFlags(), TASKMANAGER_MAIN, args));
        return name;
    }

    /** JVM flags and -D settings for a Flink process, as flink-dist's scripts compute them. */
    private record Resources(List<String> jvmFlags, List<String> dynamicProperties) {}

    private Resources resources(String which) throws IOException, InterruptedException {
        Process p =
                jvm(
                                "bash-java-utils",
                                flinkClasspath(),
                                List.of("-Xmx128m"),
                                BASH_JAVA_UTILS,
                                List.of(which, "--configDir", layout.confDir().toString()))
                        .redirectOutput(ProcessBuilder.Redirect.PIPE)
                        .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(1, TimeUnit.MINUTES);
        List<String> results =
                out.lines()
                        .filter(l -> l.startsWith("BASH_JAVA_UTILS_EXEC_RESULT:"))
                        .map(l -> l.substring("BASH_JAVA_UTILS_EXEC_RESULT:".length()).trim())
                        .toList();
        if (p.exitValue() != 0 || results.size() < 2) {
            throw new IllegalStateException(
                    "expected two BASH_JAVA_UTILS_EXEC_RESULT lines from BashJavaUtils "
                            + which
                            + " for "
                            + layout.confDir().resolve("config.yaml")
                            + ", got exit code "
                            + p.exitValue()
                            + " and:\n"
                            + out
                            + "\n(see also "
                            + layout.log("bash-java-utils")
                            + ")");
        }
        return new Resources(split(results.get(0)), split(results.get(1)));
    }

    private static List<String> split(String s) {
        return s.isBlank() ? List.of() : Arrays.asList(s.trim().split("\\s+"));
    }

    /**
     * A java command for one process: the classpath in an argument file (ONNX Runtime must not see
     * a huge command line), logs into {@code logs/<name>.log}, stdout and stderr into {@code
     * logs/<name>.out}.
     */
    private ProcessBuilder jvm(
            String name,
            List<String> classpath,
            List<String> jvmFlags,
            String mainClass,
            List<String> args)
            throws IOException {
        Path argFile = layout.confDir().resolve(name + ".classpath.args");
        Files.writeString(
                argFile, "-cp \"" + String.join(java.io.File.pathSeparator, classpath) + "\"\n");
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // What flink-dist sets in env.java.opts.all so Flink runs on Java 17.
        command.add("@" + layout.deployFile("flink/java17-opens.args"));
        command.addAll(jvmFlags);
        command.add("-Dlog.file=" + layout.log(name));
        command.add("-Dlog4j.configurationFile=" + layout.confDir().resolve("log4j2.properties"));
        command.add("-Dstreamscore.cluster.dir=" + layout.workDir());
        command.add("@" + argFile);
        command.add(mainClass);
        command.addAll(args);
        Path out = layout.logsDir().resolve(name + ".out");
        return new ProcessBuilder(command)
                .directory(layout.workDir().toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()));
    }

    private void start(String name, ProcessBuilder builder) throws IOException {
        Process process = builder.start();
        Files.writeString(layout.pidFile(name), Long.toString(process.pid()) + "\n");
    }

    private List<String> flinkClasspath() {
        List<String> cp = new ArrayList<>();
        for (String jar : layout.launcherClasspath("provided")) {
            String file = Path.of(jar).getFileName().toString();
            if (NOT_FOR_FLINK.stream().noneMatch(file::startsWith)) {
                cp.add(jar);
            }
        }
        for (String jar : layout.launcherClasspath("runtime")) {
            String file = Path.of(jar).getFileName().toString();
            if (JOB_ONLY_JARS.stream().noneMatch(file::startsWith)) {
                cp.add(jar);
            }
        }
        return cp;
    }

    private List<String> kafkaClasspath() {
        List<String> cp = new ArrayList<>(layout.launcherClasspath("provided"));
        cp.addAll(layout.launcherClasspath("runtime"));
        return cp;
    }

    private void createTopics(long deadline) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        try (Admin admin = Admin.create(props)) {
            for (Map.Entry<String, Integer> topic : TOPICS.entrySet()) {
                while (true) {
                    assertAlive(KAFKA);
                    try {
                        admin.createTopics(
                                        List.of(
                                                new NewTopic(
                                                        topic.getKey(),
                                                        topic.getValue(),
                                                        (short) 1)))
                                .all()
                                .get(10, TimeUnit.SECONDS);
                        break;
                    } catch (ExecutionException e) {
                        if (e.getCause() instanceof TopicExistsException) {
                            break;
                        }
                        if (System.nanoTime() > deadline) {
                            throw new IllegalStateException(
                                    "expected the Kafka broker at "
                                            + bootstrapServers()
                                            + " to create topic "
                                            + topic.getKey()
                                            + ", it did not: "
                                            + e.getCause()
                                            + "; see "
                                            + layout.log(KAFKA),
                                    e);
                        }
                        Thread.sleep(500);
                    } catch (java.util.concurrent.TimeoutException e) {
                        if (System.nanoTime() > deadline) {
                            throw new IllegalStateException(
                                    "expected the Kafka broker at "
                                            + bootstrapServers()
                                            + " to answer, it did not; see "
                                            + layout.log(KAFKA));
                        }
                    }
                }
            }
        }
    }

    private void awaitTaskManagers(int expected, long deadline) throws Exception {
        FlinkRestClient rest = rest();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            assertAlive(JOBMANAGER);
            try {
                int registered = rest.taskManagerCount();
                if (registered >= expected) {
                    return;
                }
                last = registered + " TaskManagers registered";
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException(
                "expected the JobManager's REST API at "
                        + rest.base()
                        + " to list "
                        + expected
                        + " TaskManagers, found "
                        + last
                        + "; see "
                        + layout.log(JOBMANAGER)
                        + " and "
                        + layout.logsDir().resolve(TASKMANAGER + "*.log"));
    }

    private void assertAlive(String name) throws IOException {
        if (process(name).isEmpty()) {
            Path out = layout.logsDir().resolve(name + ".out");
            String tail = "";
            if (Files.exists(out)) {
                List<String> lines = Files.readAllLines(out);
                tail =
                        String.join(
                                "\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
            }
            throw new IllegalStateException(
                    "expected the "
                            + name
                            + " process to be running, it has exited; see "
                            + layout.log(name)
                            + " and "
                            + out
                            + (tail.isEmpty() ? "" : ":\n" + tail));
        }
    }

    /** The handles still alive after {@code timeout}. */
    private static List<ProcessHandle> waitForExit(List<ProcessHandle> handles, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && handles.stream().anyMatch(ProcessHandle::isAlive)) {
            Thread.sleep(100);
        }
        return handles.stream().filter(ProcessHandle::isAlive).toList();
    }

    /** {@code preferred} if it is a port that is free on loopback, else any free port. */
    private static int freePort(String preferred) throws IOException {
        if (preferred != null) {
            try (ServerSocket socket =
                    new ServerSocket(
                            Integer.parseInt(preferred), 1, InetAddress.getLoopbackAddress())) {
                return socket.getLocalPort();
            } catch (IOException | NumberFormatException e) {
                // taken by now: any free port will do
            }
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static String read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("expected the file " + file + ", found none");
        }
        return Files.readString(file);
    }
}

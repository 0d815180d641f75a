package dev.streamscore.tools.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.jobs.JobArguments;
import dev.streamscore.jobs.config.KafkaClientSettings;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Unmatched;

/**
 * {@code streamscore cluster}: a real Flink standalone session cluster (a JobManager and two
 * TaskManagers, each its own JVM) and a Kafka broker in KRaft mode on this machine, and the job
 * submitted to it through Flink's REST API.
 *
 * <pre>
 * ./streamscore cluster up
 * ./streamscore cluster submit --delivery exactly-once --checkpoint-interval 5s
 * ./streamscore cluster status
 * ./streamscore cluster savepoint
 * ./streamscore cluster submit --from-savepoint target/cluster/savepoints/savepoint-...
 * ./streamscore cluster down
 * </pre>
 */
@Command(
        name = "cluster",
        mixinStandardHelpOptions = true,
        description =
                "A local Flink session cluster (JobManager + 2 TaskManagers) and Kafka broker,"
                        + " each its own process: up, submit, status, savepoint, down.",
        subcommands = {
            ClusterCommand.Up.class,
            ClusterCommand.Submit.class,
            ClusterCommand.Status.class,
            ClusterCommand.Savepoint.class,
            ClusterCommand.Down.class
        })
public final class ClusterCommand implements Callable<Integer> {

    @Option(
            names = "--work-dir",
            scope = picocli.CommandLine.ScopeType.INHERIT,
            description =
                    "Folder for the cluster's config, logs, pids, Kafka data, checkpoints and"
                            + " savepoints (default: target/cluster in the repository).")
    Path workDir;

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return 0;
    }

    LocalCluster cluster() {
        return new LocalCluster(ClusterLayout.of(ClusterLayout.findRepositoryRoot(), workDir));
    }

    /** {@code cluster up}. */
    @Command(
            name = "up",
            mixinStandardHelpOptions = true,
            description =
                    "Start a Kafka broker, a Flink JobManager and TaskManagers; create the topics.")
    static final class Up implements Callable<Integer> {
        @ParentCommand ClusterCommand parent;

        @Option(
                names = "--taskmanagers",
                defaultValue = "2",
                description = "TaskManagers to start (2 slots each); default ${DEFAULT-VALUE}.")
        int taskManagers;

        @Option(
                names = "--timeout",
                defaultValue = "180",
                description = "Seconds to wait for the cluster; default ${DEFAULT-VALUE}.")
        int timeoutSeconds;

        @Override
        public Integer call() throws Exception {
            if (taskManagers < 1) {
                throw new IllegalArgumentException(
                        "--taskmanagers must be at least 1, got " + taskManagers);
            }
            LocalCluster cluster = parent.cluster();
            long start = System.nanoTime();
            try {
                cluster.up(taskManagers, Duration.ofSeconds(timeoutSeconds));
            } catch (IllegalStateException e) {
                // What failed and which log says why; everything started was stopped again.
                System.err.println("streamscore cluster: up failed: " + e.getMessage());
                return 1;
            }
            System.out.printf(
                    "streamscore cluster: up in %.1f s (work folder %s)%n",
                    (System.nanoTime() - start) / 1e9, cluster.layout().workDir());
            System.out.println("  Flink web UI    : " + cluster.webUi());
            System.out.println("  Kafka bootstrap : " + cluster.bootstrapServers());
            System.out.println(
                    "  topics          : " + String.join(", ", LocalCluster.TOPICS.keySet()));
            System.out.println("  logs            : " + cluster.layout().logsDir());
            return 0;
        }
    }

    /** {@code cluster submit}. */
    @Command(
            name = "submit",
            mixinStandardHelpOptions = true,
            description =
                    "Submit the job jar through Flink's REST API; every other flag is a job option"
                            + " (see ./streamscore run --help).")
    static final class Submit implements Callable<Integer> {
        @ParentCommand ClusterCommand parent;

        @Option(
                names = "--jar",
                description = "Job jar (default: jobs/target/streamscore-jobs-*-job.jar).")
        Path jar;

        @Option(
                names = "--from-savepoint",
                description = "Savepoint (or retained checkpoint) path to start the job from.")
        String savepoint;

        @Unmatched List<String> jobArgs = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            LocalCluster cluster = parent.cluster();
            cluster.requireRunning();
            List<String> args = new ArrayList<>(jobArgs);
            Configuration given = JobArguments.parse(args.toArray(String[]::new));
            // The cluster's broker, unless the flag or the Kafka client settings name one.
            if (!given.contains(ScoringOptions.BOOTSTRAP_SERVERS)
                    && KafkaClientSettings.from(given).bootstrapServers() == null) {
                args.add("--" + ScoringOptions.BOOTSTRAP_SERVERS.key());
                args.add(cluster.bootstrapServers());
            }
            // Fail here, with the option's name, rather than in the JobManager's log. A
            // --kafka-config file is read here too, so it must exist on this machine as well.
            ScoringConfig.from(JobArguments.parse(args.toArray(String[]::new)));
            FlinkRestClient rest = cluster.rest();
            Path jobJar = jar != null ? jar : cluster.layout().jobJar();
            String jarId = rest.uploadJar(jobJar);
            String jobId = rest.runJar(jarId, args, savepoint);
            System.out.println("streamscore cluster: submitted " + jobJar.getFileName());
            System.out.println("  job id       : " + jobId);
            System.out.println("  Flink web UI : " + cluster.webUi() + "/#/job/running/" + jobId);
            return 0;
        }
    }

    /** {@code cluster status}. */
    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = "Processes, jobs with their state and latest checkpoint, addresses.")
    static final class Status implements Callable<Integer> {
        @ParentCommand ClusterCommand parent;

        @Override
        public Integer call() throws Exception {
            LocalCluster cluster = parent.cluster();
            cluster.requireRunning();
            System.out.println("Flink web UI    : " + cluster.webUi());
            System.out.println("Kafka bootstrap : " + cluster.bootstrapServers());
            System.out.println(
                    "processes       : " + String.join(", ", cluster.runningProcesses()));
            FlinkRestClient rest = cluster.rest();
            System.out.println("TaskManagers    : " + rest.taskManagerCount());
            JsonNode jobs = rest.jobsOverview();
            if (jobs.isEmpty()) {
                System.out.println("jobs            : none");
            }
            for (JsonNode job : jobs) {
                String id = job.path("jid").asText();
                System.out.printf(
                        "job %s  %-10s %s (started %s)%n",
                        id,
                        job.path("state").asText(),
                        job.path("name").asText(),
                        Instant.ofEpochMilli(job.path("start-time").asLong()));
                JsonNode checkpoints = rest.checkpoints(id);
                JsonNode latest = checkpoints.path("latest").path("completed");
                System.out.printf(
                        "  checkpoints: %d completed, %d failed; latest: %s%n",
                        checkpoints.path("counts").path("completed").asLong(),
                        checkpoints.path("counts").path("failed").asLong(),
                        latest.isMissingNode() || latest.isNull()
                                ? "none"
                                : "#"
                                        + latest.path("id").asLong()
                                        + " at "
                                        + Instant.ofEpochMilli(
                                                latest.path("latest_ack_timestamp").asLong())
                                        + " "
                                        + latest.path("external_path").asText());
            }
            return 0;
        }
    }

    /** {@code cluster savepoint}. */
    @Command(
            name = "savepoint",
            mixinStandardHelpOptions = true,
            description =
                    "Stop the running job with a savepoint; resume with submit --from-savepoint.")
    static final class Savepoint implements Callable<Integer> {
        @ParentCommand ClusterCommand parent;

        @Parameters(arity = "0..1", description = "Job id (default: the only running job).")
        String jobId;

        @Override
        public Integer call() throws Exception {
            LocalCluster cluster = parent.cluster();
            cluster.requireRunning();
            FlinkRestClient rest = cluster.rest();
            String id = jobId;
            if (id == null) {
                List<String> running = new ArrayList<>();
                for (JsonNode job : rest.jobsOverview()) {
                    if ("RUNNING".equals(job.path("state").asText())) {
                        running.add(job.path("jid").asText());
                    }
                }
                if (running.size() != 1) {
                    throw new IllegalArgumentException(
                            "expected exactly one running job to stop, found "
                                    + running.size()
                                    + (running.isEmpty() ? "" : " " + running)
                                    + ": name the job id");
                }
                id = running.get(0);
            }
            String location =
                    rest.stopWithSavepoint(
                            id,
                            cluster.layout().savepointsDir().toUri().toString(),
                            Duration.ofMinutes(5));
            System.out.println("streamscore cluster: stopped job " + id + " with a savepoint");
            System.out.println("  savepoint : " + location);
            System.out.println(
                    "  resume    : ./streamscore cluster submit --from-savepoint "
                            + location
                            + " <the job's flags>");
            return 0;
        }
    }

    /** {@code cluster down}. */
    @Command(
            name = "down",
            mixinStandardHelpOptions = true,
            description = "Stop every process of the cluster (data and logs stay).")
    static final class Down implements Callable<Integer> {
        @ParentCommand ClusterCommand parent;

        @Option(
                names = "--grace",
                defaultValue = "20",
                description =
                        "Seconds to wait after SIGTERM before SIGKILL; default ${DEFAULT-VALUE}.")
        int graceSeconds;

        @Override
        public Integer call() throws Exception {
            LocalCluster cluster = parent.cluster();
            List<String> stopped = cluster.down(Duration.ofSeconds(graceSeconds));
            System.out.println(
                    "streamscore cluster: "
                            + (stopped.isEmpty()
                                    ? "nothing running in " + cluster.layout().workDir()
                                    : "stopped " + String.join(", ", stopped)));
            return 0;
        }
    }
}

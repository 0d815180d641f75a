package dev.streamscore.tools.run;

import dev.streamscore.jobs.KafkaConnectionCheck;
import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.testkit.LocalFlink;
import dev.streamscore.tools.cli.JobOptions;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code streamscore run}: the fraud-scoring job against an existing Kafka cluster, on a local
 * Flink MiniCluster. Every job option is a flag (added from {@code ScoringOptions} at start-up).
 */
@Command(
        name = "run",
        mixinStandardHelpOptions = true,
        description =
                "Run the fraud-scoring job locally against an existing Kafka cluster, until"
                        + " Ctrl-C.")
public final class RunCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Configuration options = JobOptions.toConfiguration(spec.commandLine().getParseResult());
        ScoringConfig config = ScoringConfig.from(options);
        System.out.printf(
                "streamscore: reading %s, writing %s and %s on %s, model %s%n",
                config.inputTopic(),
                config.scoresTopic(),
                config.deadLetterTopic(),
                config.bootstrapServers(),
                config.inference().modelLocation());
        KafkaConnectionCheck.check(config, KafkaConnectionCheck.DEFAULT_TIMEOUT);
        StreamExecutionEnvironment env = LocalFlink.environment(ScoringJob.flinkSettings(options));
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("streamscore: fraud scoring");
        PrintWriter out = spec.commandLine().getOut();
        FailureWatcher failures =
                new FailureWatcher(
                        LocalFlink.restUrl(env),
                        job.getJobID().toString(),
                        out,
                        config.maxFailures());
        Thread watcher = new Thread(failures, "failure-watcher");
        watcher.setDaemon(true);
        watcher.start();
        try {
            job.getJobExecutionResult().get();
            return 0;
        } catch (ExecutionException e) {
            out.println(
                    "streamscore: the job ended after "
                            + failures.failures()
                            + " failures it restarted from; the last one is below");
            out.flush();
            throw e;
        } finally {
            failures.stop();
        }
    }
}

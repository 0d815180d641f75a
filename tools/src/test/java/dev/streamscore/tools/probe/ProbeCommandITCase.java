package dev.streamscore.tools.probe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.testkit.EmbeddedKafka;
import dev.streamscore.testkit.LocalFlink;
import dev.streamscore.tools.StreamscoreCli;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code streamscore probe} against the real job on a local MiniCluster and a real broker, as a
 * user runs it beside {@code demo --no-generator}: every transaction it sends is scored and timed;
 * with the job gone, the scores that never come are counted as missing and the exit code says so.
 */
class ProbeCommandITCase {

    @Test
    void timesEveryScoreOfARunningJobAndCountsTheMissingOnesWhenItIsGone() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0)) {
            Configuration options = new Configuration();
            options.set(ScoringOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
            ScoringConfig config = ScoringConfig.from(options);
            kafka.createTopics(config.topicPartitions(config.parallelism()));
            StreamExecutionEnvironment env =
                    LocalFlink.environment(ScoringJob.flinkSettings(options));
            ScoringJob.buildKafkaJob(env, config);
            JobClient job = env.executeAsync("probe test");

            Run running = probe(kafka, "--rate", "400", "--warmup", "3s", "--duration", "2s");
            assertThat(running.exitCode).as(running.out).isZero();
            assertThat(running.out).contains("2000 sent, 800 measured, 0 missing");
            assertThat(running.p50).as(running.out).isPositive();
            assertThat(running.p99).isGreaterThanOrEqualTo(running.p50);

            job.cancel().get();
            Run gone =
                    probe(
                            kafka,
                            "--rate",
                            "100",
                            "--warmup",
                            "0s",
                            "--duration",
                            "1s",
                            "--drain",
                            "2s",
                            "--seed",
                            "8");
            assertThat(gone.exitCode).as(gone.out).isEqualTo(ProbeCommand.MISSING);
            assertThat(gone.out).contains("100 sent, 0 measured, 100 missing");
        }
    }

    @Test
    void refusesARateThatIsNotPositive() {
        Run run = run("probe", "--bootstrap-servers", "localhost:1", "--rate", "0");
        assertThat(run.exitCode).isEqualTo(2);
        assertThat(run.err).contains("--rate must be in (0, 1000000], got 0.0");
    }

    private record Run(int exitCode, String out, String err, double p50, double p99) {}

    private static Run probe(EmbeddedKafka kafka, String... args) {
        String[] all = new String[args.length + 4];
        all[0] = "probe";
        all[1] = "--bootstrap-servers";
        all[2] = kafka.bootstrapServers();
        all[3] = "--quiet";
        System.arraycopy(args, 0, all, 4, args.length);
        return run(all);
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = StreamscoreCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        Matcher m = Pattern.compile("p50 ([\\d.]+) .*p99 ([\\d.]+) ").matcher(out.toString());
        boolean found = m.find();
        return new Run(
                code,
                out.toString(),
                err.toString(),
                found ? Double.parseDouble(m.group(1)) : -1,
                found ? Double.parseDouble(m.group(2)) : -1);
    }
}

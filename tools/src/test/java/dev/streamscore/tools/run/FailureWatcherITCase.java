package dev.streamscore.tools.run;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.testkit.LocalFlink;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/**
 * On a real local MiniCluster (the one {@code run} and {@code demo} use), a job that fails twice
 * and then succeeds: each failure is printed with its cause as it happens, and counted.
 */
class FailureWatcherITCase {

    static final AtomicInteger ATTEMPTS = new AtomicInteger();

    /** Fails its first two attempts, on the first element. */
    static final class FailsTwice implements MapFunction<Long, Long> {
        @Override
        public Long map(Long value) throws InterruptedException {
            if (value == 0 && ATTEMPTS.incrementAndGet() <= 2) {
                throw new IllegalStateException("poisoned attempt " + ATTEMPTS.get());
            }
            Thread.sleep(1); // keeps the job running until the test cancels it
            return value;
        }
    }

    @Test
    void printsEachFailureWithItsCauseAndCountsThem() throws Exception {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofSeconds(2));
        StreamExecutionEnvironment env = LocalFlink.environment(conf);
        env.setParallelism(1);
        env.fromSequence(0, 10)
                .map(new FailsTwice())
                .sinkTo(new org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink<>());
        JobClient job = env.executeAsync("fails twice");
        StringWriter console = new StringWriter();
        FailureWatcher failures =
                new FailureWatcher(
                        LocalFlink.restUrl(env),
                        job.getJobID().toString(),
                        new PrintWriter(console),
                        3);
        Thread watcher = new Thread(failures);
        watcher.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (failures.failures() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        failures.poll(); // a third one would show now
        failures.stop();
        watcher.join();
        try {
            job.cancel().get();
        } catch (IllegalStateException alreadyEnded) {
            // The per-job MiniCluster is gone once the job has ended: nothing to cancel.
        }

        assertThat(failures.failures()).isEqualTo(2);
        assertThat(console.toString())
                .contains("streamscore: the job failed (failure 1;")
                .contains("streamscore: the job failed (failure 2;")
                .contains("java.lang.IllegalStateException: poisoned attempt 1")
                .contains("java.lang.IllegalStateException: poisoned attempt 2");
    }
}

package dev.streamscore.tools.run;

import com.fasterxml.jackson.databind.JsonNode;
import dev.streamscore.tools.cluster.FlinkRestClient;
import java.io.PrintWriter;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prints each failure of a running job on the console as it happens, with its cause and whether the
 * job restarts, read once a second from Flink's REST API ({@code /jobs/<id>/exceptions}). A job
 * that restarts in silence looks healthy on a progress line of zeros; one whose failures are
 * printed does not.
 *
 * <pre>{@code
 * FailureWatcher failures = new FailureWatcher(LocalFlink.restUrl(env), jobId, out, 3);
 * Thread t = new Thread(failures); t.start(); ... failures.stop();
 * }</pre>
 */
public final class FailureWatcher implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(FailureWatcher.class);

    private final FlinkRestClient rest;
    private final String jobId;
    private final PrintWriter out;
    private final int maxFailures;
    private final AtomicInteger failures = new AtomicInteger();
    private volatile boolean stopped;
    private long lastSeen;

    /**
     * @param maxFailures the job's {@code max-failures}, to say how many restarts it has left
     */
    public FailureWatcher(URI restUrl, String jobId, PrintWriter out, int maxFailures) {
        this.rest = new FlinkRestClient(restUrl);
        this.jobId = jobId;
        this.out = out;
        this.maxFailures = maxFailures;
    }

    /** Failures seen so far; each but one that ended the job was followed by a restart. */
    public int failures() {
        return failures.get();
    }

    public void stop() {
        stopped = true;
    }

    @Override
    public void run() {
        while (!stopped) {
            try {
                poll();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                // The REST endpoint is not up yet, or already gone at the end: try again.
                LOG.debug("cannot read the failures of job {}", jobId, e);
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Reads the job's exception history and prints the entries not printed yet, oldest first. */
    public synchronized void poll() throws Exception {
        JsonNode entries =
                rest.get("jobs/" + jobId + "/exceptions").path("exceptionHistory").path("entries");
        java.util.List<JsonNode> fresh = new java.util.ArrayList<>();
        for (JsonNode entry : entries) {
            if (entry.path("timestamp").asLong() > lastSeen) {
                fresh.add(0, entry); // the history is newest first
            }
        }
        for (JsonNode entry : fresh) {
            lastSeen = Math.max(lastSeen, entry.path("timestamp").asLong());
            int n = failures.incrementAndGet();
            out.printf(
                    "streamscore: the job failed (failure %d; it restarts from its last checkpoint"
                            + " unless more than %d come within failure-interval): %s%n",
                    n,
                    maxFailures,
                    firstLine(
                            entry.path("stacktrace").asText(entry.path("exceptionName").asText())));
            out.flush();
        }
    }

    private static String firstLine(String text) {
        int end = text.indexOf('\n');
        return (end < 0 ? text : text.substring(0, end)).trim();
    }
}

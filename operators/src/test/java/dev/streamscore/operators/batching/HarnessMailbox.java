package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.fail;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;

/**
 * Drives the test thread's mailbox of a harness around a {@link BatchingOperator}, where the
 * operator's results come back from its inference threads, as the task thread would. Every wait
 * fails after 30 s with the output so far.
 */
public final class HarnessMailbox {

    private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

    private HarnessMailbox() {}

    /** Runs mails until {@code done}, never moving processing time. */
    public static void runMailUntil(AbstractStreamOperatorTestHarness<?> h, BooleanSupplier done)
            throws Exception {
        run(h, done, false);
    }

    /**
     * Runs mails until {@code done}, and whenever no model call is running and no mail is waiting,
     * moves processing time on by 1 ms, so that max-wait and backoff timers fire as they would in
     * time (a call's timeout never fires: time stands still while one runs).
     */
    public static void runUntil(AbstractStreamOperatorTestHarness<?> h, BooleanSupplier done)
            throws Exception {
        run(h, done, true);
    }

    /** Runs the mails that are in the mailbox now, without waiting for more. */
    public static void runPendingMails(AbstractStreamOperatorTestHarness<?> h) throws Exception {
        TaskMailbox mailbox = h.getTaskMailbox();
        for (Optional<Mail> mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY);
                mail.isPresent();
                mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)) {
            mail.get().run();
        }
    }

    private static void run(
            AbstractStreamOperatorTestHarness<?> h, BooleanSupplier done, boolean moveTime)
            throws Exception {
        TaskMailbox mailbox = h.getTaskMailbox();
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (!done.getAsBoolean()) {
            Optional<Mail> mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY);
            if (mail.isPresent()) {
                mail.get().run();
            } else if (System.nanoTime() > deadline) {
                fail("condition not reached within 30 s; output so far: " + h.getOutput());
            } else if (!moveTime || ((BatchingOperator<?, ?>) h.getOperator()).callsAwaited() > 0) {
                Thread.sleep(1);
            } else {
                h.setProcessingTime(h.getProcessingTime() + 1);
            }
        }
    }
}

package dev.streamscore.tools.bench;

import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.generator.GeneratedTransaction;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The benchmark's input, encoded once and replayed by every run: generated transactions as Avro
 * single-object bytes, keyed by card. Transaction ids are rewritten to {@code b<index>} so a
 * consumer finds a score's place in the send schedule from its id alone; a re-sent duplicate keeps
 * its original's id, and {@link #resendOf} says where the re-send was scheduled.
 */
final class Workload {

    private final TransactionGenerator generator;
    private final SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);

    /** Recent originals: re-sends follow within 51 records, so older ones are never needed. */
    private final Map<String, Integer> originalIndexById =
            new LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
                    return size() > 1_000;
                }
            };

    private byte[][] keys = new byte[0][];
    private byte[][] values = new byte[0][];
    private int[] resend = new int[0];
    private int size;

    Workload(long seed, double duplicateRate) {
        this.generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(seed)
                                .withDuplicateRate(duplicateRate));
    }

    /** Makes sure at least {@code n} records exist; they never change once made. */
    synchronized void ensure(int n) {
        if (n <= size) {
            return;
        }
        keys = Arrays.copyOf(keys, n);
        values = Arrays.copyOf(values, n);
        resend = Arrays.copyOf(resend, n);
        Arrays.fill(resend, size, n, -1);
        for (int i = size; i < n; i++) {
            GeneratedTransaction g = generator.next();
            Transaction txn = g.transaction();
            Integer original = originalIndexById.remove(txn.getTransactionId());
            String id;
            if (g.duplicate() && original != null) {
                id = "b" + original;
                resend[original] = i;
            } else {
                id = "b" + i;
                originalIndexById.put(txn.getTransactionId(), i);
            }
            Transaction renamed = Transaction.newBuilder(txn).setTransactionId(id).build();
            keys[i] = txn.getCardId().getBytes(StandardCharsets.UTF_8);
            values[i] = codec.encode(renamed);
        }
        size = n;
    }

    byte[] key(int i) {
        return keys[i];
    }

    byte[] value(int i) {
        return values[i];
    }

    /** Where the re-send of record {@code i} is in the schedule, or -1 if it is never re-sent. */
    int resendOf(int i) {
        return resend[i];
    }

    /** The schedule index of the original a score's transaction id names. */
    static int indexOf(String transactionId) {
        return Integer.parseInt(transactionId, 1, transactionId.length(), 10);
    }
}

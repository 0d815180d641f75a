package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.events.AvroEvents;
import dev.streamscore.pipeline.features.KeyState;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import dev.streamscore.testkit.cardfraud.CardFeatures;
import dev.streamscore.testkit.cardfraud.CardHistory;
import dev.streamscore.testkit.generator.TransactionGenerator;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

/**
 * The card-fraud pipeline file against the hand-written card features it replaced ({@link
 * CardFeatures}, kept as the oracle): on 100,000 generated transactions with the generator's
 * re-sends, and late events mixed in (2% of transactions delayed by up to 40,000 positions, about
 * 22 simulated hours, as a stalled producer or partition would), every transaction that is not late
 * gets a bit-identical float32 row and so the same score; each difference on a late one is counted
 * by feature and printed, and can only be one of the rules where the file's semantics differ from
 * the old code's (a late event's whole-history count, average, first country and previous
 * transaction).
 */
class CardFraudPipelineParityTest {

    static final int EVENTS = 100_000;
    static final long DAY = 86_400_000L;

    @Test
    void theCardFraudFileComputesTheHandWrittenFeaturesBitForBit() throws Exception {
        List<Transaction> arrivals = arrivals();
        Pipeline pipeline = Pipeline.of(PipelineDefinition.read(PipelineDefinition.DEFAULT));
        Pipeline.Compiled file = pipeline.newEngine(1024);
        assertThat(file.engine().featureNames()).isEqualTo(CardFeatures.NAMES);
        SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
        AvroEvents events = new AvroEvents(pipeline.inputSchema());

        Map<String, CardHistory> histories = new HashMap<>();
        Map<String, KeyState> states = new HashMap<>();
        Map<String, float[]> firstRows = new HashMap<>();
        Map<String, Long> newest = new HashMap<>();
        java.util.Set<String> cardsWithLate = new java.util.HashSet<>();
        int afterLateCount = 0;
        int afterLateDiffering = 0;
        Map<String, Integer> afterLateFeatures = new TreeMap<>();
        Map<String, List<Transaction>> received = new HashMap<>();
        int lateBeyondAllowance = 0;
        List<float[]> oracleRows = new ArrayList<>();
        List<float[]> fileRows = new ArrayList<>();
        int late = 0;
        int resent = 0;
        int lateDiffering = 0;
        Map<String, Integer> differingFeatures = new TreeMap<>();
        for (Transaction txn : arrivals) {
            String card = txn.getCardId();
            float[] first = firstRows.get(txn.getTransactionId());
            if (first != null) {
                resent++; // both paths give a re-send its first row and change nothing
                continue;
            }
            long time = txn.getEventTime().toEpochMilli();
            boolean isLate = time < newest.getOrDefault(card, Long.MIN_VALUE);
            // Windows are exact for an event up to the longest window (24 h) behind its key's
            // newest: the key's ring keeps that much more (docs/pipelines.md, "Bounds").
            boolean beyondAllowance = isLate && newest.get(card) - time > DAY;
            newest.merge(card, time, Math::max);
            if (isLate) {
                cardsWithLate.add(card);
            }
            // A card that received a late event: its later events may differ too (its first
            // country is the earliest by event time now, not the first to arrive).
            boolean afterLate = !isLate && cardsWithLate.contains(card);

            float[] expected =
                    CardFeatures.computeAndUpdate(
                            histories.computeIfAbsent(card, c -> new CardHistory()), txn);
            GenericRecord event = events.decodeMessage(codec.encode(txn));
            file.fields().load(event, file.vars());
            file.engine().check();
            float[] actual =
                    file.engine()
                            .computeAndUpdate(
                                    states.computeIfAbsent(card, c -> file.engine().newState()),
                                    time);
            firstRows.put(txn.getTransactionId(), actual);
            List<Transaction> earlier = received.computeIfAbsent(card, c -> new ArrayList<>());
            if (beyondAllowance) {
                lateBeyondAllowance++;
            } else if (isLate || cardsWithLate.contains(card)) {
                // The file's semantics, by brute force over the card's earlier arrivals.
                float[] semantic = semantics(earlier, txn);
                for (int f = 0; f < semantic.length; f++) {
                    assertThat(actual[f])
                            .as("%s %s", txn.getTransactionId(), CardFeatures.NAMES.get(f))
                            .isCloseTo(semantic[f], org.assertj.core.data.Offset.offset(1e-5f));
                }
            }
            earlier.add(txn);
            boolean same = java.util.Arrays.equals(expected, actual);
            if (isLate) {
                late++;
                if (!same) {
                    lateDiffering++;
                    for (int f = 0; f < expected.length; f++) {
                        if (Float.floatToIntBits(expected[f]) != Float.floatToIntBits(actual[f])) {
                            differingFeatures.merge(CardFeatures.NAMES.get(f), 1, Integer::sum);
                        }
                    }
                }
                continue;
            }
            if (afterLate) {
                afterLateCount++;
                if (!same) {
                    afterLateDiffering++;
                    for (int f = 0; f < expected.length; f++) {
                        if (Float.floatToIntBits(expected[f]) != Float.floatToIntBits(actual[f])) {
                            afterLateFeatures.merge(CardFeatures.NAMES.get(f), 1, Integer::sum);
                        }
                    }
                }
                continue;
            }
            assertThat(actual)
                    .as("%s of card %s at %s", txn.getTransactionId(), card, txn.getEventTime())
                    .containsExactly(expected);
            oracleRows.add(expected);
            fileRows.add(actual);
        }
        System.out.printf(
                "parity: %d transactions, %d re-sends; %d in order on cards without a late one,"
                        + " all with bit-identical rows; %d late, of which %d differ from the old"
                        + " code (%s); %d in order after a late one on their card, of which %d"
                        + " differ (%s); %d more than 24 h behind their card's newest, beyond"
                        + " the exact windows%n",
                arrivals.size(),
                resent,
                fileRows.size(),
                late,
                lateDiffering,
                differingFeatures,
                afterLateCount,
                afterLateDiffering,
                afterLateFeatures,
                lateBeyondAllowance);
        assertThat(afterLateCount).isPositive();
        assertThat(resent).isGreaterThan(500);
        assertThat(late).isGreaterThan(1000);
        assertThat(fileRows.size()).isGreaterThan(80_000);

        // The same rows, the same scores: the bundled GBDT on both.
        try (OnnxModel model = OnnxModel.open("bundled:gbdt", OnnxOptions.DEFAULT)) {
            float[] oracleScores = model.score(oracleRows.toArray(new float[0][]));
            float[] fileScores = model.score(fileRows.toArray(new float[0][]));
            assertThat(fileScores).containsExactly(oracleScores);
        }
    }

    /**
     * The card-fraud file's features of {@code txn} as its semantics define them, by brute force:
     * over the card's {@code earlier} arrivals whose time is at most the transaction's, windows
     * {@code (t - w, t]}, first and last by (time, arrival).
     */
    static float[] semantics(List<Transaction> earlier, Transaction txn) {
        long t = txn.getEventTime().toEpochMilli();
        long hour = 3_600_000L;
        List<Transaction> before = new ArrayList<>();
        for (Transaction e : earlier) {
            if (e.getEventTime().toEpochMilli() <= t) {
                before.add(e);
            }
        }
        before.sort(java.util.Comparator.comparingLong(e -> e.getEventTime().toEpochMilli()));
        double count1h = 0, count24h = 0, sum1h = 0, sum24h = 0, smallEcom1h = 0, sumAll = 0;
        java.util.Set<String> countries = new java.util.HashSet<>();
        for (Transaction e : before) {
            long te = e.getEventTime().toEpochMilli();
            sumAll += e.getAmountMinor();
            if (te > t - 24 * hour) {
                count24h++;
                sum24h += e.getAmountMinor();
                countries.add(e.getCountry());
            }
            if (te > t - hour) {
                count1h++;
                sum1h += e.getAmountMinor();
                if (e.getChannel() == dev.streamscore.schemas.Channel.ECOM
                        && e.getAmountMinor() < 500) {
                    smallEcom1h++;
                }
            }
        }
        int seen = before.size();
        Transaction last = seen > 0 ? before.get(seen - 1) : null;
        Transaction first = seen > 0 ? before.get(0) : null;
        double amount = txn.getAmountMinor();
        double hourOfDay = ((t % (24 * hour)) + 24 * hour) % (24 * hour) / (double) hour;
        double[] f = {
            Math.log1p(amount / 100.0),
            txn.getCardPresent() ? 1 : 0,
            txn.getChannel() == dev.streamscore.schemas.Channel.ECOM ? 1 : 0,
            txn.getChannel() == dev.streamscore.schemas.Channel.ATM ? 1 : 0,
            CardFeatures.HIGH_RISK_MCC.contains(txn.getMerchantCategory()) ? 1 : 0,
            Math.sin(2 * Math.PI * hourOfDay / 24),
            Math.cos(2 * Math.PI * hourOfDay / 24),
            count1h,
            count24h,
            Math.log1p(sum1h / 100.0),
            Math.log1p(sum24h / 100.0),
            seen == 0
                    ? Math.log1p(2592000.0)
                    : Math.log1p((t - last.getEventTime().toEpochMilli()) / 1000.0),
            seen > 0 && !last.getCountry().equals(txn.getCountry()) ? 1 : 0,
            seen > 0 && !first.getCountry().equals(txn.getCountry()) ? 1 : 0,
            seen == 0 ? 0 : Math.log((amount + 100.0) / (sumAll / seen + 100.0)),
            smallEcom1h,
            countries.size(),
            Math.log1p(seen)
        };
        float[] row = new float[f.length];
        for (int i = 0; i < f.length; i++) {
            row[i] = (float) f[i];
        }
        return row;
    }

    /**
     * The generator's stream (its re-sends included) in arrival order, with 2% of transactions
     * arriving up to 40,000 positions (about 22 simulated hours) late.
     */
    static List<Transaction> arrivals() {
        TransactionGenerator generator =
                new TransactionGenerator(
                        TransactionGenerator.Settings.defaults(20261207).withDuplicateRate(0.01));
        List<Transaction> sent = new ArrayList<>(EVENTS);
        for (int i = 0; i < EVENTS; i++) {
            sent.add(generator.next().transaction());
        }
        Random random = new Random(7);
        List<Transaction> arrivals = new ArrayList<>(sent.size());
        TreeMap<Integer, List<Transaction>> delayed = new TreeMap<>();
        for (int i = 0; i < sent.size(); i++) {
            if (random.nextDouble() < 0.02) {
                delayed.computeIfAbsent(i + 1 + random.nextInt(40_000), k -> new ArrayList<>())
                        .add(sent.get(i));
            } else {
                arrivals.add(sent.get(i));
            }
            List<Transaction> due = delayed.remove(i);
            if (due != null) {
                arrivals.addAll(due);
            }
        }
        delayed.values().forEach(arrivals::addAll);
        return arrivals;
    }
}

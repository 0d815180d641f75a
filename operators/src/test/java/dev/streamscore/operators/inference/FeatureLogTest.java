package dev.streamscore.operators.inference;

import static dev.streamscore.operators.inference.InferenceFixtures.LINEAR_V1;
import static dev.streamscore.operators.inference.InferenceFixtures.harness;
import static dev.streamscore.operators.inference.InferenceFixtures.location;
import static dev.streamscore.operators.inference.InferenceFixtures.poisoned;
import static dev.streamscore.operators.inference.InferenceFixtures.row;
import static dev.streamscore.operators.inference.InferenceFixtures.runUntil;
import static dev.streamscore.operators.inference.InferenceFixtures.settings;
import static dev.streamscore.operators.inference.InferenceFixtures.txn;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.operators.serde.PipelineEvent;
import dev.streamscore.schemas.FeatureLogEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.junit.jupiter.api.Test;

/** The feature log: one entry per score, with the exact row the model saw. */
class FeatureLogTest {

    @Test
    void everyScoreHasAnEntryWithItsRowModelAndScoreCacheHitsIncludedFallbacksNot()
            throws Exception {
        InferenceSettings settings =
                settings(InferenceFixtures.FAILS_ON_NAN, 4).withFallbackScore(0.5);
        List<PipelineEvent> input = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            input.add(txn(i, 3));
        }
        input.add(txn("repeat", "card-1", row(1), 50)); // card-1 scored row(1): a cache hit
        input.add(txn("poison", "card-2", poisoned(7), 51)); // the model fails: fallback score
        String sha =
                ModelArtifact.load(location(InferenceFixtures.FAILS_ON_NAN)).descriptor().sha256();
        try (var h = harness(new BatchingInferenceOperator(settings).withFeatureLog(), null)) {
            for (int i = 0; i < input.size(); i++) {
                h.processElement(input.get(i), 100 + i);
            }
            runUntil(h, () -> h.extractOutputValues().size() == input.size());

            List<Score> scores = h.extractOutputValues();
            var logged = h.getSideOutput(BatchingInferenceOperator.FEATURE_LOG);
            Map<String, StreamRecord<FeatureLogEntry>> byId =
                    logged.stream()
                            .collect(
                                    Collectors.toMap(r -> r.getValue().getTransactionId(), r -> r));
            assertThat(logged).hasSize(input.size() - 1);
            assertThat(byId).doesNotContainKey("poison");
            for (Score score : scores) {
                if (score.getFallback()) {
                    continue;
                }
                StreamRecord<FeatureLogEntry> record = byId.get(score.getId());
                FeatureLogEntry entry = record.getValue();
                PipelineEvent in =
                        input.stream().filter(e -> e.id.equals(score.getId())).findFirst().get();
                assertThat(record.getTimestamp()).isEqualTo(100 + input.indexOf(in));
                assertThat(entry.getCardId()).isEqualTo(score.getKey());
                assertThat(entry.getScore()).isEqualTo(score.getScore());
                assertThat(entry.getDecision().name()).isEqualTo(score.getDecision());
                assertThat(entry.getModelName()).isEqualTo(score.getModelName());
                assertThat(entry.getModelVersion()).isEqualTo(score.getModelVersion());
                assertThat(entry.getModelSha256()).isEqualTo(sha);
                assertThat(entry.getCacheHit()).isEqualTo(score.getCacheHit());
                assertThat(entry.getEventTime().toEpochMilli()).isEqualTo(score.getEventTime());
                assertThat(entry.getScoredAt().toEpochMilli()).isEqualTo(score.getScoredAt());
                assertThat(entry.getFeatures()).hasSize(18);
                for (int f = 0; f < 18; f++) {
                    assertThat(entry.getFeatures().get(f)).isEqualTo(in.features[f]);
                }
            }
            assertThat(byId.get("repeat").getValue().getCacheHit()).isTrue();
        }
    }

    @Test
    void withoutTheFeatureLogNothingIsLogged() throws Exception {
        try (var h = harness(settings(LINEAR_V1, 4))) {
            for (int i = 0; i < 8; i++) {
                h.processElement(txn(i, 3), i);
            }
            runUntil(h, () -> h.extractOutputValues().size() == 8);
            assertThat(h.getSideOutput(BatchingInferenceOperator.FEATURE_LOG)).isNull();
        }
    }
}

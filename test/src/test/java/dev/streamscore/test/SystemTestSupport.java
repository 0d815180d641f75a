package dev.streamscore.test;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.FeatureRows;
import java.util.List;

/** What the system tests share beyond the testkit: the independent reference scores. */
final class SystemTestSupport {

    private SystemTestSupport() {}

    /**
     * The model's score of each transaction with features computed here, independently of any job,
     * from each card's transactions in the given order.
     */
    static float[] referenceScores(List<Transaction> transactions, String model) throws Exception {
        float[][] rows = FeatureRows.of(transactions);
        try (OnnxModel onnx = OnnxModel.open(model, OnnxOptions.DEFAULT)) {
            return onnx.score(rows);
        }
    }
}

/* dz/metrics.h — classification metrics over all m rows, computed where the rows are, and the
 * `evaluate` command.
 *
 * Definitions: scikit-learn's (1.2), so that sklearn.metrics on the same labels, predictions
 * and probabilities (pred.h5's) agrees to 1e-12:
 *   accuracy        correct / m
 *   confusion       C[i][j] = rows of true class i predicted j (binary: 2 × 2, classes 0, 1)
 *   precision, recall, f1
 *     binary:  of class 1: p = tp/(tp + fp), r = tp/(tp + fn), f1 = 2pr/(p + r); 0 when a
 *              denominator is 0 (scikit-learn's zero_division default)
 *     softmax: per class k the same one-vs-rest; macro = their mean over the classes that
 *              occur in the labels or the predictions (scikit-learn's unique_labels), weighted
 *              = their mean weighted by each class's support; per_class over all K classes
 *   log_loss        mean over rows of −log(q_y), q = the probabilities clipped to [ε, 1 − ε]
 *                   (ε = 2^−52) and divided by their row sum (binary: q = (1 − p, p)) —
 *                   log_loss(y, proba) exactly as scikit-learn computes it
 *   cross_entropy   training's mean loss (softplus(z) − y·z, softmax log Σe^z − z_y) from the
 *                   logits, never clipped: equal to log_loss unless a probability rounds to 0
 *                   or 1 in float64, and the trainer's test loss for the same set
 *   roc_auc         binary: P(score of a positive > score of a negative) + ½ P(tie), over all
 *                   positive × negative pairs (= the trapezoidal area under the ROC curve with
 *                   ties, as roc_auc_score); undefined (NaN, JSON null) when the labels have
 *                   one class only.  softmax: one-vs-rest with score proba[:, k] per class,
 *                   macro mean; undefined unless every class occurs in the labels (where
 *                   scikit-learn refuses too)
 *
 * The same numbers for any N × T (Collective computation): counts are int64 sums
 * (MPI_Allreduce SUM); log_loss's row terms are summed in the fixed global blocks, each block
 * in row order, and the block partials added exactly (dz/reduce.h); the AUC is made of two
 * exact integer pair counts (below).  The probabilities themselves are the same bits for any
 * N (dz/predict.h).
 *
 * AUC without gathering the scores (exact counting on a ring): for each positive class, each
 * rank sorts its positive scores and its negative scores.  Its sorted positives then travel
 * once around the ring of ranks (N − 1 MPI_Sendrecv steps to the next rank); at every step
 * each rank merges the positives it holds with its own sorted negatives in one linear walk and
 * counts, for every negative v, the positives > v and the positives == v.  Summed over all
 * ranks (int64 allreduce) these are the exact numbers of concordant and tied pairs.  Traffic:
 * each positive score crosses N − 1 links (O(m) per rank); memory per rank: its own rows plus
 * two buffers of the largest rank's positive count (O(m/N)); time O((m/N) log(m/N) + m) per
 * rank.  No floating-point sum is involved, so the AUC is identical for any N.
 *
 * Ownership: dz_evaluation owns confusion and per_class; dz_eval_free(NULL) is safe.
 */
#ifndef DZ_METRICS_H
#define DZ_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <mpi.h>

#include "dz/err.h"
#include "dz/predict.h"
#include "dz/shard.h"

typedef struct dz_evaluation {
    int64_t m;              /* rows */
    int64_t K;              /* 0: binary logistic; >= 2: softmax classes */
    int64_t nc;             /* classes in the confusion matrix: 2 or K */
    int64_t *confusion;     /* nc × nc: rows true class, columns predicted */
    double accuracy;
    double log_loss;        /* scikit-learn's, from the clipped probabilities */
    double cross_entropy;   /* training's loss from the logits (set by the caller), NaN unset */
    double precision, recall, f1;        /* binary: class 1; softmax: macro */
    double precision_w, recall_w, f1_w;  /* softmax: weighted by support */
    double *per_class;      /* softmax: 4 × K, rows precision, recall, f1, roc_auc (NaN when
                               undefined) */
    double roc_auc;         /* NaN when undefined (see note) */
    char note[256];         /* why roc_auc is undefined, or "" */
} dz_evaluation;

/* Collective: the metrics of this rank's predictions pr of shard s (labels 0/1, or 0 … K−1
 * for K >= 2).  Returns DZ_OK or an agreed DZ_ERUNTIME (memory). */
int dz_eval_compute(MPI_Comm comm, const dz_shard *s, const dz_pred *pr, int64_t K,
                    dz_evaluation *ev, dz_err *e);
void dz_eval_free(dz_evaluation *ev);

/* Not collective (rank 0): the metrics as text, and as JSON written atomically (keys
 * accuracy, log_loss, cross_entropy, precision, recall, f1, roc_auc, confusion_matrix, ...:
 * README "evaluate"). */
void dz_eval_print(FILE *f, const dz_evaluation *ev);
/* One line "<set> metrics: precision …, recall …, f1 …, roc_auc …" (binary: class 1; softmax:
 * macro), for the end of training. */
void dz_eval_print_line(FILE *f, const char *set, const dz_evaluation *ev);
int dz_eval_write_json(const char *path, const dz_evaluation *ev, dz_err *e);

/* Collective: `trainer evaluate ...`; argv[0] is "evaluate".  Returns the exit code (usage
 * errors and --help as dz_predict_main). */
int dz_evaluate_main(MPI_Comm comm, int argc, char **argv);
void dz_evaluate_usage(FILE *f);

#endif

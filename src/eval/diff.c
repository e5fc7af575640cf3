/*
 * Demographic differentials (diff.h): per-group error rates at a fixed
 * threshold, ratios to a reference group, and identity-resampling bootstrap
 * intervals.
 *
 * The comparisons are first collapsed into cells, one per distinct (group,
 * kind, identities), holding a count and an error count: a bootstrap
 * replicate only reweights cells, so its cost is the number of cells (for a
 * 1:1 run, about one per identity for genuine pairs and one per sampled
 * impostor pair), not of comparisons.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/diff.h"
#include "eval/manifest.h"
#include "util/util.h"

typedef struct cell {
    int32_t group, a, b;
    unsigned char pos;
    size_t n, err;
} cell;

static int cmp_item(const void *x, const void *y)
{
    const lfr__diff_item *p = x, *q = y;
    if (p->group != q->group) return p->group < q->group ? -1 : 1;
    if (p->pos != q->pos) return p->pos < q->pos ? -1 : 1;
    if (p->id_a != q->id_a) return p->id_a < q->id_a ? -1 : 1;
    if (p->id_b != q->id_b) return p->id_b < q->id_b ? -1 : 1;
    return 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The 2.5th and 97.5th percentiles (linear interpolation between order
 * statistics) of the finite values among v[0..n); NaN when more than 5 % are
 * not finite. Sorts v in place. */
static void interval(double *v, size_t n, double *lo, double *hi)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) v[k++] = v[i];
    *lo = *hi = NAN;
    if (n == 0 || (double)k < 0.95 * (double)n) return;
    qsort(v, k, sizeof *v, cmp_double);
    double q[2] = {0.025, 0.975}, *out[2] = {lo, hi};
    for (int j = 0; j < 2; j++) {
        double pos = q[j] * (double)(k - 1);
        size_t i = (size_t)floor(pos);
        double f = pos - (double)i;
        *out[j] = i + 1 < k ? v[i] * (1 - f) + v[i + 1] * f : v[i];
    }
}

/* Canonical order of a pair's identities, so (a, b) and (b, a) share a cell. */
static lfr__diff_item canonical(lfr__diff_item it)
{
    if (it.id_b >= 0 && it.id_b < it.id_a) {
        int32_t t = it.id_a;
        it.id_a = it.id_b;
        it.id_b = t;
    }
    if (it.id_b == it.id_a) it.id_b = -1;
    return it;
}

int lfr__diff_compute(const lfr__diff_item *items, size_t n, int n_identities,
                      const lfr__diff_params *p, lfr__diff_group *out)
{
    int G = p->n_groups;
    if (G < 1 || p->reference < 0 || p->reference >= G || n_identities < 0 || p->replicates < 0)
        return lfr__err(LFR_ERR_INVALID, "differentials: bad parameters");
    for (size_t i = 0; i < n; i++) {
        const lfr__diff_item *it = &items[i];
        if (it->id_a < 0 || it->id_a >= n_identities || it->id_b < -1 || it->id_b >= n_identities ||
            it->group < -1 || it->group >= G)
            return lfr__err(LFR_ERR_INVALID, "differentials: item %zu out of range", i);
    }
    size_t cells_cap = n ? n : 1, gk = (size_t)G * 2;
    size_t idg;
    if (!lfr__mul_ok((size_t)n_identities + 1, (size_t)G, &idg) || idg > ((size_t)1 << 28))
        return lfr__err(LFR_ERR_TOO_LARGE, "differentials: too many identities x groups");
    lfr__diff_item *sorted = malloc(cells_cap * sizeof *sorted);
    cell *cells = malloc(cells_cap * sizeof *cells);
    int *count = calloc(idg ? idg : 1, sizeof *count);
    int *stratum = malloc(((size_t)n_identities + 1) * sizeof *stratum);
    int *stamp = malloc(((size_t)n_identities + 1) * sizeof *stamp);
    double *mult = malloc(((size_t)n_identities + 1) * sizeof *mult);
    int32_t *members = malloc(((size_t)n_identities + 1) * sizeof *members);
    size_t *mstart = calloc((size_t)G + 1, sizeof *mstart),
           *mfill = malloc((size_t)G * sizeof *mfill);
    size_t reps = (size_t)p->replicates;
    double *rep = malloc((reps ? reps : 1) * gk * 2 * sizeof *rep); /* rates, then ratios */
    double *wn = malloc(gk * sizeof *wn), *we = malloc(gk * sizeof *we);
    double *col = malloc((reps ? reps : 1) * sizeof *col);
    int rc = LFR_OK;
    if (!sorted || !cells || !count || !stratum || !stamp || !mult || !members || !mstart ||
        !mfill || !rep || !wn || !we || !col) {
        rc = lfr__err(LFR_ERR_NOMEM, "differentials: out of memory");
        goto out;
    }
    /* Cells. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].group >= 0) sorted[k++] = canonical(items[i]);
    qsort(sorted, k, sizeof *sorted, cmp_item);
    size_t nc = 0;
    for (size_t i = 0; i < k; i++) {
        const lfr__diff_item *it = &sorted[i];
        if (nc && cells[nc - 1].group == it->group && cells[nc - 1].pos == it->pos &&
            cells[nc - 1].a == it->id_a && cells[nc - 1].b == it->id_b) {
            cells[nc - 1].n++;
            cells[nc - 1].err += it->err != 0;
        } else {
            cells[nc++] = (cell){it->group, it->id_a, it->id_b, it->pos, 1, it->err != 0};
        }
        count[(size_t)it->id_a * (size_t)G + (size_t)it->group]++;
        if (it->id_b >= 0) count[(size_t)it->id_b * (size_t)G + (size_t)it->group]++;
    }
    /* Strata: each identity in the group where it appears most. */
    for (int id = 0; id < n_identities; id++) {
        int best = -1, bc = 0;
        for (int g = 0; g < G; g++)
            if (count[(size_t)id * (size_t)G + (size_t)g] > bc) {
                bc = count[(size_t)id * (size_t)G + (size_t)g];
                best = g;
            }
        stratum[id] = best;
        if (best >= 0) mstart[best + 1]++;
    }
    for (int g = 0; g < G; g++)
        mstart[g + 1] += mstart[g];
    for (int g = 0; g < G; g++)
        mfill[g] = mstart[g];
    for (int id = 0; id < n_identities; id++)
        if (stratum[id] >= 0) members[mfill[stratum[id]]++] = id;
    /* Point estimates, counts and identities. */
    memset(out, 0, (size_t)G * sizeof *out);
    for (int id = 0; id < n_identities; id++)
        stamp[id] = -1;
    for (size_t c = 0; c < nc; c++) {
        const cell *ce = &cells[c];
        lfr__diff_rate *r = ce->pos ? &out[ce->group].pos : &out[ce->group].neg;
        int token = ce->group * 2 + ce->pos;
        r->n += ce->n;
        r->n_err += ce->err;
        if (stamp[ce->a] != token) {
            stamp[ce->a] = token;
            r->n_identities++;
        }
        if (ce->b >= 0 && stamp[ce->b] != token) {
            stamp[ce->b] = token;
            r->n_identities++;
        }
    }
    for (int g = 0; g < G; g++) {
        out[g].n_identities = (int)(mstart[g + 1] - mstart[g]);
        for (int kind = 0; kind < 2; kind++) {
            lfr__diff_rate *r = kind ? &out[g].pos : &out[g].neg;
            double overall = kind ? p->overall_pos : p->overall_neg;
            r->value = r->n ? (double)r->n_err / (double)r->n : NAN;
            r->estimable = r->n_identities >= LFR__DIFF_MIN_IDENTITIES && isfinite(overall) &&
                           (double)r->n * overall >= 1.0;
            r->ci_low = r->ci_high = r->ratio = r->ratio_low = r->ratio_high = NAN;
        }
    }
    /* Bootstrap replicates: rep[(r * gk + g * 2 + kind)], ratios after. */
    uint64_t st = p->seed;
    double *ratio = rep + reps * gk;
    for (size_t r = 0; r < reps; r++) {
        for (int id = 0; id < n_identities; id++)
            mult[id] = stratum[id] >= 0 ? 0 : 1;
        for (int g = 0; g < G; g++) {
            size_t s = mstart[g], m = mstart[g + 1] - s;
            for (size_t j = 0; j < m; j++)
                mult[members[s + (size_t)lfr__rng_below(&st, m)]] += 1;
        }
        memset(wn, 0, gk * sizeof *wn);
        memset(we, 0, gk * sizeof *we);
        for (size_t c = 0; c < nc; c++) {
            const cell *ce = &cells[c];
            double w = mult[ce->a] * (ce->b >= 0 ? mult[ce->b] : 1);
            if (w == 0) continue;
            size_t slot = (size_t)ce->group * 2 + ce->pos;
            wn[slot] += w * (double)ce->n;
            we[slot] += w * (double)ce->err;
        }
        for (size_t s = 0; s < gk; s++)
            rep[r * gk + s] = wn[s] > 0 ? we[s] / wn[s] : NAN;
        for (size_t s = 0; s < gk; s++) {
            double ref = rep[r * gk + (size_t)p->reference * 2 + (s & 1)];
            ratio[r * gk + s] = ref > 0 ? rep[r * gk + s] / ref : NAN;
        }
    }
    /* Intervals and ratios. */
    for (int g = 0; g < G; g++)
        for (int kind = 0; kind < 2; kind++) {
            lfr__diff_rate *r = kind ? &out[g].pos : &out[g].neg;
            const lfr__diff_rate *ref = kind ? &out[p->reference].pos : &out[p->reference].neg;
            size_t slot = (size_t)g * 2 + (size_t)kind;
            if (r->estimable) {
                for (size_t q = 0; q < reps; q++)
                    col[q] = rep[q * gk + slot];
                interval(col, reps, &r->ci_low, &r->ci_high);
                if (r->n_err == 0) {
                    r->ci_low = 0;
                    r->ci_high = 1 - pow(0.025, 1.0 / (double)r->n);
                }
            }
            r->ratio_estimable = r->estimable && ref->estimable && ref->value > 0;
            if (r->ratio_estimable) {
                r->ratio = r->value / ref->value;
                for (size_t q = 0; q < reps; q++)
                    col[q] = ratio[q * gk + slot];
                interval(col, reps, &r->ratio_low, &r->ratio_high);
                /* The reference against itself is 1 by definition, even
                 * when replicates without its errors leave it undefined. */
                if (g == p->reference) r->ratio = r->ratio_low = r->ratio_high = 1;
            }
        }
out:
    free(sorted);
    free(cells);
    free(count);
    free(stratum);
    free(stamp);
    free(mult);
    free(members);
    free(mstart);
    free(mfill);
    free(rep);
    free(wn);
    free(we);
    free(col);
    return rc;
}

/*
 * lfr_templates: the templates the live pipeline computes for a video, for
 * privacy tests. Decodes VIDEO with the pipeline's own source (src/video),
 * detects and embeds every face of every frame with the pipeline's engine
 * settings, and writes each template's raw bytes (LFR_TEMPLATE_DIM floats,
 * native byte order) to OUT. A test then searches files for these bytes:
 * since the decoding, detection and embedding are the pipeline's, a
 * template the pipeline leaked would be found byte for byte.
 *
 *   lfr_templates MODELS VIDEO OUT [MAX_FRAMES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfr/lfr.h"
#include "video/video.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: lfr_templates MODELS VIDEO OUT [MAX_FRAMES]\n");
        return 2;
    }
    long max_frames = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
    lfr_engine_config cfg = lfr_engine_config_default();
    cfg.model_dir = argv[1];
    lfr_engine *eng = NULL;
    lfr_session *ses = NULL;
    lfr__video *v = NULL;
    lfr__video_opts vo;
    memset(&vo, 0, sizeof vo);
    vo.name = "test";
    FILE *out = fopen(argv[3], "wb");
    if (!out || lfr_engine_open(&cfg, &eng) || lfr_session_open(eng, 1, &ses) ||
        lfr__video_open(argv[2], &vo, &v)) {
        fprintf(stderr, "lfr_templates: %s\n", out ? lfr_errmsg() : "cannot create output");
        return 1;
    }
    long frames = 0, n_tpl = 0;
    lfr_image img;
    int64_t t;
    while (lfr__video_read(v, &img, &t) == LFR_OK && (!max_frames || frames < max_frames)) {
        frames++;
        lfr_face faces[64];
        int n = 0;
        if (lfr_session_detect(ses, &img, faces, 64, &n) || n == 0) continue;
        /* One face per call, as the pipeline embeds them. */
        for (int i = 0; i < n; i++) {
            float tpl[LFR_TEMPLATE_DIM];
            if (lfr_session_embed(ses, &img, &faces[i], 1, tpl) == LFR_OK) {
                fwrite(tpl, sizeof(float), LFR_TEMPLATE_DIM, out);
                n_tpl++;
            }
        }
    }
    fclose(out);
    fprintf(stderr, "lfr_templates: %ld frames, %ld templates\n", frames, n_tpl);
    lfr__video_close(v);
    lfr_session_close(ses);
    lfr_engine_close(eng);
    return n_tpl > 0 ? 0 : 1;
}

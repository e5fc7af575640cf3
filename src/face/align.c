/*
 * Face alignment for the embedder, as in MODELS.md: a least-squares
 * similarity transform from the face's eye, nose and mouth keypoints to the
 * ArcFace 112x112 template, then an inverse-mapped bilinear warp (pixel
 * centres at integer coordinates, outside = 0) normalised to
 * (v - 127.5) / 128.
 */
#include <math.h>

#include "face.h"
#include "image/image.h"

/* ArcFace template: eyes and nose as published; the mouth centre is the
 * mean of the two mouth corners. */
const float lfr__arcface_bz4[4][2] = {
    {38.2946f, 51.6963f},
    {73.5318f, 51.5014f},
    {56.0252f, 71.7366f},
    {56.1396f, 92.2848f},
};

int lfr__similarity_fit(const float (*src)[2], const float (*dst)[2], int n, float m_out[6])
{
    double msx = 0, msy = 0, mdx = 0, mdy = 0;
    for (int i = 0; i < n; i++) {
        msx += src[i][0];
        msy += src[i][1];
        mdx += dst[i][0];
        mdy += dst[i][1];
    }
    msx /= n, msy /= n, mdx /= n, mdy /= n;
    /* For 2-D points the Umeyama solution without reflection is the
     * rotation-scale matrix [a -b; b a] minimising sum |A s + t - d|^2. */
    double ss = 0, num_a = 0, num_b = 0;
    for (int i = 0; i < n; i++) {
        double sx = src[i][0] - msx, sy = src[i][1] - msy;
        double dx = dst[i][0] - mdx, dy = dst[i][1] - mdy;
        ss += sx * sx + sy * sy;
        num_a += sx * dx + sy * dy;
        num_b += sx * dy - sy * dx;
    }
    if (!(ss > 1e-12) || !isfinite(ss)) return 0;
    double a = num_a / ss, b = num_b / ss;
    m_out[0] = (float)a;
    m_out[1] = (float)-b;
    m_out[2] = (float)(mdx - (a * msx - b * msy));
    m_out[3] = (float)b;
    m_out[4] = (float)a;
    m_out[5] = (float)(mdy - (b * msx + a * msy));
    return a * a + b * b > 1e-12;
}

int lfr__align_face(const lfr_image *img, const lfr_face *face, float *dst)
{
    float src[4][2];
    for (int k = 0; k < 4; k++) {
        src[k][0] = face->kp[k].x;
        src[k][1] = face->kp[k].y;
        if (!isfinite(src[k][0]) || !isfinite(src[k][1])) return 0;
    }
    float m[6], inv[6];
    if (!lfr__similarity_fit((const float(*)[2])src, lfr__arcface_bz4, 4, m) ||
        !lfr__affine_invert(m, inv))
        return 0;
    lfr__warp_affine_f32(img, inv, 112, 112, 0.0f, 1.0f / 128.0f, -127.5f / 128.0f, dst);
    return 1;
}

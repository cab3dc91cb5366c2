"""Image-quality metrics: MEF-SSIM (fusion), PSNR-L / PSNR-mu (HDR), luminance histograms."""

from app.core.metrics.histogram import luminance_histogram
from app.core.metrics.mef_ssim import mef_ssim, mef_ssim_many, mef_ssim_scales
from app.core.metrics.psnr import MU, mu_law, psnr_l, psnr_mu

__all__ = [
    "MU",
    "luminance_histogram",
    "mef_ssim",
    "mef_ssim_many",
    "mef_ssim_scales",
    "mu_law",
    "psnr_l",
    "psnr_mu",
]

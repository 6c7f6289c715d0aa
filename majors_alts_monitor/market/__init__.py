"""The market as the book sees it, point in time: aligned panels with an active mask
(``panel``), the eligible universe and the short basket (``universe``), the daily features
(``features``, a registry), the rolling dual betas, the neutral book (``beta_neutral``), and the
compiled rolling helpers they share (``rolling``, ``row_median``). Arrays in, arrays out."""

"""Sparse autoencoders / transcoders: train, eval, browse, formation, steer (`interp sae ...`)."""

from interp.units import Unit

UNIT = Unit(
    name="sae",
    function="interp.sae.evaluate:evaluate_sae",
    kinds=("sae_train", "sae_eval", "sae_sweep", "sae_features", "steering", "sae_formation"),
    figures={"sae_train": "interp.sae.plots:train_figures", "sae_eval": "interp.sae.plots:eval_figures",
             "sae_sweep": "interp.sae.plots:sweep_figures", "sae_formation": "interp.sae.plots:formation_figures"},
    sections={"sae_train": "interp.sae.section:TRAIN", "sae_eval": "interp.sae.section:EVAL",
              "sae_sweep": "interp.sae.section:SWEEP", "sae_features": "interp.sae.section:FEATURES",
              "steering": "interp.sae.section:STEERING", "sae_formation": "interp.sae.section:FORMATION"},
    regress={"steering": "interp.sae.regress:KIND"},
    cli="interp.sae.cli",
    cli_group="sae",
    cli_group_help="Sparse autoencoders and transcoders: train (eai-sparsify), eval, browse features, "
                   "formation over training, steering.",
    api={"train_sae": "interp.sae.train:train_sae", "load_sae": "interp.sae.coder:load_coder",
         "steer": "interp.sae.steer:steer", "browse_features": "interp.sae.browse:browse_features"},
)

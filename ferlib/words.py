"""The words of the figures and the report, per language: class and split names, figure labels.

Every figure is drawn once per language it can be drawn in (see
outputs.figure_paths), so its labels live here rather than in the scripts.
Both languages have the same keys; {} fields are filled by the plots.
"""

from ferlib import CLASS_NAMES

LANGUAGES = ("en", "zh-TW")

CLASS_WORDS = {"en": dict(zip(CLASS_NAMES, CLASS_NAMES)),
               "zh-TW": dict(zip(CLASS_NAMES, ["生氣", "厭惡", "恐懼", "高興", "難過", "驚訝", "中性"]))}
SPLIT_WORDS = {"en": {"train": "train", "val": "validation", "test": "test", "all": "whole"},
               "zh-TW": {"train": "訓練集", "val": "驗證集", "test": "測試集", "all": "全部資料"}}

FIGURE_WORDS = {
    "en": {
        "confusion_title": "{split} split, n={n}, accuracy {accuracy:.3f}{tta}",
        "tta": " ({views}-view TTA)",
        "predicted_class": "predicted class",
        "true_class": "true class (faces in the split)",
        "share_of_true": "% of the true class",
        "gallery_title": "Misclassified {split} faces of the most confused pairs",
        "gallery_label": "{true} → {predicted}\np = {probability:.2f}",
        "saliency_title": "Saliency of the class score, {split} split{layer}",
        "gradcam_at": " (Grad-CAM at {layer})",
        "right": "(right)",
        "face": "face",
        "method_vanilla": "gradient", "method_smoothgrad": "SmoothGrad", "method_gradcam": "Grad-CAM",
        "saliency_scale": "saliency (map / its max)",
        "mean_title": "Mean {method} map of correctly classified faces ({split})",
        "none_correct": "none\ncorrect",
        "mean_saliency": "mean saliency",
        "filters_title": "{layer}: the input each filter responds to most ({steps} ascent steps)",
        "dead": "dead",
        "activations_title": "{layer} output for {split} face {index}: true {true}, predicted {predicted}",
        "unlabelled": "unlabelled",
        "activation_scale": "activation (shared scale)",
        "history_title": "{kind} ({params:,} parameters) on {source}",
        "synthetic_source": "the built-in synthetic faces",
        "train": "train", "train_under": "train ({})", "augmented": "augmented", "dropout_on": "dropout on",
        "list_sep": ", ",
        "validation": "validation",
        "best_epoch": "best epoch ({epoch})",
        "epoch": "epoch",
        "loss": "cross-entropy loss",
        "accuracy": "accuracy",
        "model_validation": "{kind} validation",
        "model_train": "{kind} {train}",
        "chance": "chance (1/7)",
        "majority": "majority class",
    },
    "zh-TW": {
        "confusion_title": "{split}，n={n}，準確率 {accuracy:.3f}{tta}",
        "tta": "（{views} 視角 TTA）",
        "predicted_class": "預測類別",
        "true_class": "真實類別（該集合中的臉數）",
        "share_of_true": "占真實類別的 %",
        "gallery_title": "最常混淆的類別對中被分錯的{split}臉",
        "gallery_label": "{true} → {predicted}\np = {probability:.2f}",
        "saliency_title": "類別分數的顯著圖，{split}{layer}",
        "gradcam_at": "（Grad-CAM 取自 {layer}）",
        "right": "（正確）",
        "face": "臉",
        "method_vanilla": "梯度", "method_smoothgrad": "SmoothGrad", "method_gradcam": "Grad-CAM",
        "saliency_scale": "顯著度（除以該圖最大值）",
        "mean_title": "正確分類之臉的平均{method}圖（{split}）",
        "none_correct": "沒有\n正確的臉",
        "mean_saliency": "平均顯著度",
        "filters_title": "{layer}：各濾波器反應最強的輸入（梯度上升 {steps} 步）",
        "dead": "無反應",
        "activations_title": "{layer} 對{split}第 {index} 張臉的輸出：真實 {true}，預測 {predicted}",
        "unlabelled": "無標記",
        "activation_scale": "激活值（共同刻度）",
        "history_title": "{kind}（{params:,} 個參數），資料：{source}",
        "synthetic_source": "內建合成臉",
        "train": "訓練", "train_under": "訓練（{}）", "augmented": "資料增強", "dropout_on": "dropout 開啟",
        "list_sep": "、",
        "validation": "驗證",
        "best_epoch": "最佳 epoch（{epoch}）",
        "epoch": "epoch",
        "loss": "交叉熵損失",
        "accuracy": "準確率",
        "model_validation": "{kind} 驗證",
        "model_train": "{kind} {train}",
        "chance": "隨機猜測（1/7）",
        "majority": "多數類別",
    },
}


def class_words(lang):
    """The seven class names in lang, in label order."""
    return [CLASS_WORDS[lang][c] for c in CLASS_NAMES]


def has_dropout(record):
    """Whether a run record's model has dropout (a layer of rate above 0)."""
    return any(row[1] == "Dropout" and row[-1] != "rate 0.0" for row in record["layers"])


def train_label(lang, record):
    """What a run's curves call "train": measured under augmentation and dropout when the run had them."""
    w = FIGURE_WORDS[lang]
    under = [w[k] for k, on in (("augmented", bool(record.get("augmentation"))), ("dropout_on", has_dropout(record)))
             if on]
    return w["train_under"].format(w["list_sep"].join(under)) if under else w["train"]

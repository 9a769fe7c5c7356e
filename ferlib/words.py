"""The words of the figures and the report, per language: class and split names, figure labels.

Every figure is drawn once per language it can be drawn in (see
outputs.figure_paths), so its labels live here rather than in the scripts.
Both languages have the same keys; {} fields are filled by the plots.
"""

import re

from ferlib import CLASS_NAMES

LANGUAGES = ("en", "zh-TW")

CLASS_WORDS = {"en": dict(zip(CLASS_NAMES, CLASS_NAMES)),
               "zh-TW": dict(zip(CLASS_NAMES, ["生氣", "厭惡", "恐懼", "高興", "難過", "驚訝", "中性"]))}
REGION_WORDS = {"en": {"rest": "rest of the image", "brows": "brows", "eyes": "eyes", "nose": "nose", "mouth": "mouth"},
                "zh-TW": {"rest": "其餘部分", "brows": "眉毛", "eyes": "眼睛", "nose": "鼻子", "mouth": "嘴巴"}}
SPLIT_WORDS = {"en": {"train": "train", "val": "validation", "test": "test", "all": "whole"},
               "zh-TW": {"train": "訓練集", "val": "驗證集", "test": "測試集", "all": "全部資料"}}
# Kaggle's fer2013.csv names its splits (Usage): those names, in both languages, say which rows were used.
USAGE_WORDS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def split_word(lang, split, usage=False):
    """A split's name in lang: FER2013's own (PublicTest...) when the data came with a Usage column."""
    return USAGE_WORDS[split] if usage and split in USAGE_WORDS else SPLIT_WORDS[lang][split]


# Chinese beside a Latin word or a number takes a space (在 PublicTest 上), as the templates write it; a
# split's name (PublicTest) comes from the data and would otherwise touch the characters around it.
HAN_LATIN = re.compile(r"(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9])|(?<=[A-Za-z0-9])(?=[\u4e00-\u9fff])")


def spaced(text):
    """text with a space wherever a Chinese character touches a Latin letter or a digit."""
    return HAN_LATIN.sub(" ", text)


FIGURE_WORDS = {
    "en": {
        "confusion_title": "{split} split, n={n}, accuracy {accuracy:.3f}{tta}",
        "tta": " ({views}-view TTA)",
        "predicted_class": "predicted class",
        "true_class": "true class (faces in the split)",
        "share_of_true": "% of the true class",
        "class_count": "{c} (n={n})",
        "gallery_title": "Misclassified {split} faces of the most confused pairs",
        "gallery_label": "{true} → {predicted}\np = {probability:.2f}",
        "saliency_title": "Saliency of the class score, {split} split{layer}",
        "gradcam_at": " (Grad-CAM at {layer})",
        "right": "(correct)",
        "face": "face",
        "method_vanilla": "gradient", "method_smoothgrad": "SmoothGrad", "method_gradcam": "Grad-CAM",
        "saliency_scale": "saliency (map / its max)",
        "relative_title": "Gradient maps of the {split} faces: all faces, then each class over all faces",
        "all_faces_map": "all faces",
        "relative_scale": "× all faces (red: more)",
        "mean_face": "mean face",
        "no_faces": "no\nfaces",
        "dead": "dead",
        "filters_grid_title": "The input each filter responds to most ({steps} ascent steps), strongest {n} per layer",
        "filters_layer": "{layer}: receptive field {field} px",
        "filters_counts": "S {stripes}, L {lattice}, B {blob}, dead {dead}",
        "filters_legend": "S stripes (h horizontal, v vertical, d diagonal), L lattice, B blob; number: period in px",
        "selective_title": "Each layer's most region-selective filters",
        "selective_panels": "Each triple: the filter's ascent image (its index, its region, the lift); the mean of its\n"
                            "strongest face patches (its receptive field, {faces} faces); where its top 1% activations "
                            "fall over the mean face",
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
        "model_validation": "{kind} {val}",
        "model_train": "{kind} {train}",
        "chance": "chance (1/7)",
        "majority": "majority class",
        "dnn_own": "DNN, own recipe", "dnn_same": "DNN, CNN's recipe",
        "faces_crop": "crop", "faces_map": "saliency", "faces_probs": "probabilities",
        "faces_more": "the first {shown} of {n} faces",
    },
    "zh-TW": {
        "confusion_title": "{split}，n={n}，準確率 {accuracy:.3f}{tta}",
        "tta": "（{views} 視角 TTA）",
        "predicted_class": "預測類別",
        "true_class": "真實類別（括號內為該資料集的張數）",
        "share_of_true": "占該真實類別的比例（%）",
        "class_count": "{c}（n={n}）",
        "gallery_title": "最常混淆的類別對中被分錯的{split}臉",
        "gallery_label": "{true} → {predicted}\np = {probability:.2f}",
        "saliency_title": "類別分數的顯著圖，{split}{layer}",
        "gradcam_at": "（Grad-CAM 取自 {layer}）",
        "right": "（正確）",
        "face": "臉",
        "method_vanilla": "梯度", "method_smoothgrad": "SmoothGrad", "method_gradcam": "Grad-CAM",
        "saliency_scale": "顯著度（除以該圖最大值）",
        "relative_title": "{split}人臉的梯度圖：全部臉的平均，以及各類別相對於全部臉",
        "all_faces_map": "全部臉",
        "relative_scale": "相對全部臉的倍數（紅：較多）",
        "mean_face": "平均臉",
        "no_faces": "沒有\n這類的臉",
        "dead": "無反應",
        "filters_grid_title": "各濾波器反應最強的輸入（梯度上升 {steps} 步），每層取最強的 {n} 個",
        "filters_layer": "{layer}：感受野 {field} 像素",
        "filters_counts": "S {stripes}、L {lattice}、B {blob}、無反應 {dead}",
        "filters_legend": "S 條紋（h 水平、v 垂直、d 斜向），L 格點，B 斑點；數字為週期（像素）",
        "selective_title": "各層最具區域選擇性的濾波器",
        "selective_panels": "每組三格：濾波器的梯度上升影像（編號、區域、提升倍數）；\n"
                            "使它反應最強的臉部區塊的平均（感受野大小，{faces} 張臉）；它前 1% 活化值落在平均臉上的位置",
        "activations_title": "{layer} 對{split}第 {index} 張臉的輸出：真實為{true}，預測為{predicted}",
        "unlabelled": "無標記",
        "activation_scale": "活化值（所有圖共用色階）",
        "history_title": "{kind}（{params:,} 個參數），資料：{source}",
        "synthetic_source": "內建合成人臉",
        "train": "訓練", "train_under": "訓練（{}）", "augmented": "資料增強", "dropout_on": "dropout 開啟",
        "list_sep": "、",
        "validation": "驗證",
        "best_epoch": "最佳 epoch（{epoch}）",
        "epoch": "epoch",
        "loss": "交叉熵損失",
        "accuracy": "準確率",
        "model_validation": "{kind} {val}",
        "model_train": "{kind} {train}",
        "chance": "隨機猜測（1/7）",
        "majority": "多數類別",
        "dnn_own": "DNN（自身訓練設定）", "dnn_same": "DNN（CNN 的訓練設定）",
        "faces_crop": "裁切", "faces_map": "顯著圖", "faces_probs": "機率",
        "faces_more": "{n} 張臉中的前 {shown} 張",
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

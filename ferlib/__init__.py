"""ferlib: the small helper package the FER2013 kit's scripts share."""

CLASS_NAMES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]

"""The specialty list of migration 0002 (imported by it and by ``specialties.py``)."""

SPECIALTIES = [
    ("100", "General Surgery", "SURGERY_GENERAL"),
    ("101", "Urology", "UROLOGY"),
    ("110", "Trauma and Orthopaedics", "ORTHOPAEDICS"),
    ("120", "Ear, Nose and Throat", "ENT"),
    ("130", "Ophthalmology", "OPHTHALMOLOGY"),
    ("300", "General Internal Medicine", "MEDICINE_GENERAL"),
    ("301", "Gastroenterology", "GASTROENTEROLOGY"),
    ("302", "Endocrinology", "ENDOCRINOLOGY_AND_METABOLISM"),
    ("320", "Cardiology", "CARDIOLOGY"),
    ("330", "Dermatology", "DERMATOLOGY"),
    ("340", "Respiratory Medicine", "RESPIRATORY"),
    ("400", "Neurology", "NEUROLOGY"),
    ("410", "Rheumatology", "RHEUMATOLOGY"),
    ("420", "Paediatrics", "PAEDIATRICS"),
    ("502", "Gynaecology", "GYNAECOLOGY"),
]

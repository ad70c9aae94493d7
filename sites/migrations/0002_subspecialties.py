"""Seed the standard list of subspecialties (data, editable in the admin)."""

from django.db import migrations

SUBSPECIALTIES = [
    ("neuro", "Neuroradiologie"),
    ("msk", "Ostéo-articulaire (MSK)"),
    ("abdo", "Imagerie abdominale et digestive"),
    ("thorax", "Thorax et vasculaire"),
    ("pediatric", "Pédiatrie"),
    ("ent", "ORL et tête et cou"),
    ("breast", "Sénologie"),
    ("cardiac", "Cardiaque"),
    ("emergency", "Urgences"),
    ("uro", "Uro-génital"),
    ("interventional", "Radiologie interventionnelle"),
]


def seed(apps, schema_editor):
    Subspecialty = apps.get_model("sites", "Subspecialty")
    for code, name in SUBSPECIALTIES:
        Subspecialty.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("sites", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

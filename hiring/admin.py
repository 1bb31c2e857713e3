from django.contrib import admin

from hiring.models import JobProfile, ProfileAttribute, Question
from tcp.admin import ReadOnly


class AttributeInline(ReadOnly, admin.TabularInline):
    model = ProfileAttribute
    extra = 0


# Profiles and questions change on the hiring pages, whose services keep the history and
# the versions; the back office only shows them.
@admin.register(JobProfile)
class JobProfileAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["title", "created_at", "updated_at"]
    search_fields = ["title"]
    inlines = [AttributeInline]


@admin.register(Question)
class QuestionAdmin(ReadOnly, admin.ModelAdmin):
    # Candidates stay out of the back office: their pages apply the privacy rule.
    list_display = ["text", "measures"]
    search_fields = ["text"]
